//! The `untrusted` safe list: the programs that may run unasked, each with the argument
//! shapes proven read-only. Options are allow-listed per program (exact long names, no
//! GNU abbreviations, since `sort --out=x` means `--output=x`), operands are counted
//! (`uniq IN OUT` writes OUT), and anything not listed here needs the person's approval.

/// Which operands (non-option arguments) a program may get.
#[derive(Clone, Copy)]
enum Operands {
    /// Any number of files or words to read or print.
    Any,
    /// At most this many (`uniq`: a second operand is the file it writes).
    AtMost(usize),
    /// At most one, and only `+FORMAT` (`date MMDDhhmm` sets the clock).
    DateFormat,
}

/// The options and operands of one program that only read and print.
struct ReadOnlyShape {
    /// Short options that take no value (may be clustered: `-la`).
    short_flags: &'static str,
    /// Short options that take a value: the rest of the cluster or the next argument.
    short_values: &'static str,
    /// Short options whose value is optional and only ever attached (`date -Iseconds`).
    short_optional: &'static str,
    /// Long options (exact names, without `--`) that take no value.
    long_flags: &'static [&'static str],
    /// Long options that take a value: `--name=value` or `--name value`.
    long_values: &'static [&'static str],
    /// Long options whose value is optional and only given as `--name=value`.
    long_optional: &'static [&'static str],
    /// Whether `-NUM` is a count (`head -5`, `grep -3`).
    numeric_short: bool,
    /// Whether a short option's value may be attached (`-k2`, getopt). `tree` parses
    /// its own way: `-Lo a b` takes `a` for `-L` and then `b` for `-o`, so there a
    /// value-taking option must end its cluster.
    values_attach: bool,
    operands: Operands,
}

const NONE: &[&str] = &[];

const fn shape(short_flags: &'static str, long_flags: &'static [&'static str]) -> ReadOnlyShape {
    ReadOnlyShape {
        short_flags,
        short_values: "",
        short_optional: "",
        long_flags,
        long_values: NONE,
        long_optional: NONE,
        numeric_short: false,
        values_attach: true,
        operands: Operands::Any,
    }
}

/// Programs whose every argument is harmless: they only print their arguments or exit.
const ANY_ARGUMENTS: [&str; 3] = ["echo", "true", "false"];

/// The read-only shape of each listed program. Left out on purpose, per program:
/// `sort -o/--output`, `-T` (temp files), `--compress-program` (runs a program);
/// `uniq` with a second operand; `find -exec/-execdir/-ok/-okdir/-delete/-fprint*/-fls`;
/// `rg --pre/--pre-glob/-z/--search-zip/--hostname-bin` (run programs);
/// `tree -o` and `-R` (writes `00Tree.html`); `file -z/-Z` (runs decompressors),
/// `-C` (writes a magic file), `-p` (sets times); `diff -l` (runs `pr`);
/// `date -s` and date operands (set the clock); `df --sync`; `tail -f` (never ends).
/// Not listed at all: `git` (its config names programs to run), `sed` (`w`, `e`, `r`
/// commands), `awk` (`system()`), `xargs`, `env`, anything that runs another program.
fn read_only_shape(program: &str) -> Option<ReadOnlyShape> {
    let found = match program {
        "cat" => shape(
            "AbeEnstTuv",
            &[
                "show-all",
                "number-nonblank",
                "show-ends",
                "number",
                "squeeze-blank",
                "show-tabs",
                "show-nonprinting",
                "help",
                "version",
            ],
        ),
        "cut" => ReadOnlyShape {
            short_values: "bcdf",
            long_values: &[
                "bytes",
                "characters",
                "delimiter",
                "fields",
                "output-delimiter",
            ],
            ..shape(
                "nsz",
                &[
                    "complement",
                    "only-delimited",
                    "zero-terminated",
                    "help",
                    "version",
                ],
            )
        },
        "date" => ReadOnlyShape {
            short_values: "dfr",
            short_optional: "I",
            long_values: &["date", "file", "reference", "rfc-3339"],
            long_optional: &["iso-8601"],
            operands: Operands::DateFormat,
            ..shape(
                "uR",
                &[
                    "utc",
                    "universal",
                    "rfc-email",
                    "rfc-2822",
                    "debug",
                    "help",
                    "version",
                ],
            )
        },
        "df" => ReadOnlyShape {
            short_values: "Btx",
            long_values: &["block-size", "type", "exclude-type"],
            long_optional: &["output"],
            ..shape(
                "ahHiklPTv",
                &[
                    "all",
                    "human-readable",
                    "si",
                    "inodes",
                    "local",
                    "no-sync",
                    "portability",
                    "print-type",
                    "total",
                    "help",
                    "version",
                ],
            )
        },
        "diff" => ReadOnlyShape {
            short_values: "CDFILSUWxX",
            long_values: &[
                "ignore-matching-lines",
                "label",
                "width",
                "show-function-line",
                "exclude",
                "exclude-from",
                "starting-file",
                "from-file",
                "to-file",
                "ifdef",
                "tabsize",
                "horizon-lines",
                "line-format",
                "old-line-format",
                "new-line-format",
                "unchanged-line-format",
                "old-group-format",
                "new-group-format",
                "changed-group-format",
                "unchanged-group-format",
                "palette",
            ],
            long_optional: &["context", "unified", "color"],
            ..shape(
                "abBcdeEfinNpqrstTuwyZ",
                &[
                    "brief",
                    "report-identical-files",
                    "ed",
                    "normal",
                    "rcs",
                    "side-by-side",
                    "left-column",
                    "suppress-common-lines",
                    "show-c-function",
                    "expand-tabs",
                    "initial-tab",
                    "suppress-blank-empty",
                    "ignore-case",
                    "ignore-tab-expansion",
                    "ignore-trailing-space",
                    "ignore-space-change",
                    "ignore-all-space",
                    "ignore-blank-lines",
                    "text",
                    "strip-trailing-cr",
                    "recursive",
                    "no-dereference",
                    "new-file",
                    "unidirectional-new-file",
                    "ignore-file-name-case",
                    "no-ignore-file-name-case",
                    "minimal",
                    "speed-large-files",
                    "help",
                    "version",
                ],
            )
        },
        "du" => ReadOnlyShape {
            short_values: "BdtX",
            long_values: &[
                "block-size",
                "max-depth",
                "threshold",
                "exclude-from",
                "exclude",
                "time-style",
                "files0-from",
            ],
            long_optional: &["time"],
            ..shape(
                "0abcDhHklLmsSxP",
                &[
                    "null",
                    "all",
                    "apparent-size",
                    "bytes",
                    "total",
                    "dereference-args",
                    "human-readable",
                    "inodes",
                    "dereference",
                    "count-links",
                    "no-dereference",
                    "separate-dirs",
                    "si",
                    "summarize",
                    "one-file-system",
                    "help",
                    "version",
                ],
            )
        },
        "file" => ReadOnlyShape {
            short_values: "eFfmP",
            long_values: &[
                "exclude",
                "exclude-quiet",
                "separator",
                "files-from",
                "magic-file",
                "parameter",
            ],
            ..shape(
                "bcdEhiklLNnrsS0",
                &[
                    "brief",
                    "debug",
                    "dereference",
                    "no-dereference",
                    "keep-going",
                    "list",
                    "no-buffer",
                    "no-pad",
                    "mime",
                    "mime-type",
                    "mime-encoding",
                    "raw",
                    "special-files",
                    "print0",
                    "extension",
                    "apple",
                    "help",
                    "version",
                ],
            )
        },
        "grep" => ReadOnlyShape {
            short_values: "efmABCdD",
            long_values: &[
                "regexp",
                "file",
                "max-count",
                "after-context",
                "before-context",
                "context",
                "label",
                "binary-files",
                "devices",
                "directories",
                "include",
                "exclude",
                "exclude-from",
                "exclude-dir",
            ],
            long_optional: &["color", "colour"],
            numeric_short: true,
            ..shape(
                "EFGPiyvwxclLoqsbHhnTZzaIrRUV",
                &[
                    "extended-regexp",
                    "fixed-strings",
                    "basic-regexp",
                    "perl-regexp",
                    "ignore-case",
                    "no-ignore-case",
                    "invert-match",
                    "word-regexp",
                    "line-regexp",
                    "count",
                    "files-with-matches",
                    "files-without-match",
                    "only-matching",
                    "quiet",
                    "silent",
                    "no-messages",
                    "byte-offset",
                    "with-filename",
                    "no-filename",
                    "line-number",
                    "initial-tab",
                    "null",
                    "null-data",
                    "text",
                    "recursive",
                    "dereference-recursive",
                    "line-buffered",
                    "binary",
                    "help",
                    "version",
                ],
            )
        },
        "head" | "tail" => ReadOnlyShape {
            short_values: "cn",
            long_values: &["bytes", "lines"],
            numeric_short: true,
            ..shape(
                "qvz",
                &[
                    "quiet",
                    "silent",
                    "verbose",
                    "zero-terminated",
                    "help",
                    "version",
                ],
            )
        },
        "ls" => ReadOnlyShape {
            short_values: "ITw",
            long_values: &[
                "block-size",
                "hide",
                "ignore",
                "quoting-style",
                "sort",
                "time",
                "time-style",
                "tabsize",
                "width",
                "format",
                "indicator-style",
            ],
            long_optional: &["color", "hyperlink", "classify"],
            ..shape(
                "aAbBcCdDfFgGhHiklLmnNopqQrRsStuUvxXZ1",
                &[
                    "all",
                    "almost-all",
                    "author",
                    "escape",
                    "ignore-backups",
                    "directory",
                    "dired",
                    "file-type",
                    "full-time",
                    "group-directories-first",
                    "no-group",
                    "human-readable",
                    "si",
                    "dereference-command-line",
                    "dereference-command-line-symlink-to-dir",
                    "inode",
                    "kibibytes",
                    "dereference",
                    "numeric-uid-gid",
                    "literal",
                    "hide-control-chars",
                    "show-control-chars",
                    "quote-name",
                    "recursive",
                    "size",
                    "context",
                    "zero",
                    "help",
                    "version",
                ],
            )
        },
        "nl" => ReadOnlyShape {
            short_values: "bdfhilnsvw",
            long_values: &[
                "body-numbering",
                "section-delimiter",
                "footer-numbering",
                "header-numbering",
                "line-increment",
                "join-blank-lines",
                "number-format",
                "number-separator",
                "starting-line-number",
                "number-width",
            ],
            ..shape("p", &["no-renumber", "help", "version"])
        },
        "pwd" => ReadOnlyShape {
            operands: Operands::AtMost(0),
            ..shape("LP", &["logical", "physical", "help", "version"])
        },
        "rg" => ReadOnlyShape {
            short_values: "ABCeEfgjmMrtTd",
            long_values: &[
                "regexp",
                "file",
                "glob",
                "iglob",
                "type",
                "type-not",
                "max-count",
                "max-depth",
                "max-filesize",
                "max-columns",
                "after-context",
                "before-context",
                "context",
                "context-separator",
                "field-match-separator",
                "field-context-separator",
                "replace",
                "sort",
                "sortr",
                "threads",
                "encoding",
                "color",
                "colors",
                "path-separator",
                "ignore-file",
                "engine",
            ],
            ..shape(
                "abcFHhIilLnNopPqsSuUvwxV0.",
                &[
                    "text",
                    "byte-offset",
                    "count",
                    "count-matches",
                    "fixed-strings",
                    "with-filename",
                    "no-filename",
                    "ignore-case",
                    "files-with-matches",
                    "files-without-match",
                    "follow",
                    "line-number",
                    "no-line-number",
                    "only-matching",
                    "pretty",
                    "pcre2",
                    "quiet",
                    "case-sensitive",
                    "smart-case",
                    "unrestricted",
                    "multiline",
                    "multiline-dotall",
                    "invert-match",
                    "word-regexp",
                    "line-regexp",
                    "null",
                    "hidden",
                    "no-hidden",
                    "no-ignore",
                    "no-ignore-vcs",
                    "no-ignore-parent",
                    "no-ignore-dot",
                    "no-ignore-global",
                    "no-ignore-exclude",
                    "no-ignore-files",
                    "files",
                    "json",
                    "no-heading",
                    "heading",
                    "vimgrep",
                    "column",
                    "no-column",
                    "trim",
                    "stats",
                    "no-messages",
                    "no-config",
                    "type-list",
                    "crlf",
                    "binary",
                    "no-binary",
                    "passthru",
                    "one-file-system",
                    "help",
                    "version",
                ],
            )
        },
        "sort" => ReadOnlyShape {
            short_values: "ktS",
            long_values: &[
                "key",
                "field-separator",
                "buffer-size",
                "sort",
                "random-source",
                "files0-from",
                "parallel",
            ],
            long_optional: &["check"],
            ..shape(
                "bdfgiMhnRrVcCmsuz",
                &[
                    "ignore-leading-blanks",
                    "dictionary-order",
                    "ignore-case",
                    "general-numeric-sort",
                    "ignore-nonprinting",
                    "month-sort",
                    "human-numeric-sort",
                    "numeric-sort",
                    "random-sort",
                    "reverse",
                    "version-sort",
                    "merge",
                    "stable",
                    "unique",
                    "zero-terminated",
                    "debug",
                    "help",
                    "version",
                ],
            )
        },
        "stat" => ReadOnlyShape {
            short_values: "c",
            long_values: &["format", "printf", "cached"],
            ..shape(
                "Lft",
                &["dereference", "file-system", "terse", "help", "version"],
            )
        },
        "tree" => ReadOnlyShape {
            short_values: "LPI",
            values_attach: false,
            long_values: &["filelimit", "timefmt", "sort", "charset"],
            ..shape(
                "adlfxpsughDFqNQrtcUvCAinSJX",
                &[
                    "noreport",
                    "dirsfirst",
                    "inodes",
                    "device",
                    "du",
                    "si",
                    "prune",
                    "matchdirs",
                    "ignore-case",
                    "gitignore",
                    "metafirst",
                    "help",
                    "version",
                ],
            )
        },
        "uniq" => ReadOnlyShape {
            short_values: "fsw",
            long_values: &["skip-fields", "skip-chars", "check-chars"],
            long_optional: &["all-repeated", "group"],
            operands: Operands::AtMost(1),
            ..shape(
                "cdDiuz",
                &[
                    "count",
                    "repeated",
                    "ignore-case",
                    "unique",
                    "zero-terminated",
                    "help",
                    "version",
                ],
            )
        },
        "wc" => ReadOnlyShape {
            long_values: &["files0-from", "total"],
            ..shape(
                "cmlLw",
                &[
                    "bytes",
                    "chars",
                    "lines",
                    "max-line-length",
                    "words",
                    "help",
                    "version",
                ],
            )
        },
        _ => return None,
    };
    Some(found)
}

/// True when `argv` (program first, as parsed from the command) runs a listed program
/// with only read-only arguments. The program must be named bare (`uniq`, not
/// `/usr/bin/uniq` or `./uniq`); an environment assignment (`FOO=1 ls`) is not a
/// program name, so it is never safe.
pub(crate) fn argv_is_read_only(argv: &[String]) -> bool {
    let Some((program, args)) = argv.split_first() else {
        return false;
    };
    if ANY_ARGUMENTS.contains(&program.as_str()) {
        return true;
    }
    if program == "find" {
        return find_is_read_only(args);
    }
    match read_only_shape(program) {
        Some(shape) => args_fit(&shape, args),
        None => false,
    }
}

/// Walks `args` the way GNU getopt does (options anywhere before `--`, clusters,
/// attached or separate values) and accepts only allow-listed options and operands.
fn args_fit(shape: &ReadOnlyShape, args: &[String]) -> bool {
    let mut operands: Vec<&str> = Vec::new();
    let mut only_operands = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if only_operands || arg == "-" || !arg.starts_with('-') {
            operands.push(arg);
            continue;
        }
        if arg == "--" {
            only_operands = true;
            continue;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            let fits = if shape.long_flags.contains(&name) {
                value.is_none()
            } else if shape.long_optional.contains(&name) {
                true
            } else if shape.long_values.contains(&name) {
                value.is_some() || rest.next().is_some()
            } else {
                false
            };
            if !fits {
                return false;
            }
            continue;
        }
        let cluster = &arg[1..];
        if shape.numeric_short && cluster.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        for (at, option) in cluster.char_indices() {
            if shape.short_optional.contains(option) {
                break;
            }
            if shape.short_values.contains(option) {
                let attached = at + option.len_utf8() < cluster.len();
                if attached && !shape.values_attach {
                    return false;
                }
                if !attached && rest.next().is_none() {
                    return false;
                }
                break;
            }
            if !shape.short_flags.contains(option) {
                return false;
            }
        }
    }
    match shape.operands {
        Operands::Any => true,
        Operands::AtMost(most) => operands.len() <= most,
        Operands::DateFormat => {
            operands.len() <= 1 && operands.iter().all(|word| word.starts_with('+'))
        }
    }
}

/// `find` tests and operators that only look (and actions that print to stdout).
const FIND_WORDS: [&str; 29] = [
    "!",
    "(",
    ")",
    ",",
    "-not",
    "-and",
    "-a",
    "-or",
    "-o",
    "-print",
    "-print0",
    "-ls",
    "-prune",
    "-quit",
    "-true",
    "-false",
    "-empty",
    "-readable",
    "-writable",
    "-executable",
    "-nouser",
    "-nogroup",
    "-depth",
    "-follow",
    "-xdev",
    "-mount",
    "-noleaf",
    "-daystart",
    "-ignore_readdir_race",
];
/// `find` tests that take one argument (a pattern, number, name or format).
const FIND_TESTS_WITH_VALUE: [&str; 34] = [
    "-name",
    "-iname",
    "-path",
    "-ipath",
    "-wholename",
    "-iwholename",
    "-lname",
    "-ilname",
    "-regex",
    "-iregex",
    "-regextype",
    "-type",
    "-xtype",
    "-maxdepth",
    "-mindepth",
    "-size",
    "-mtime",
    "-atime",
    "-ctime",
    "-mmin",
    "-amin",
    "-cmin",
    "-used",
    "-newer",
    "-anewer",
    "-cnewer",
    "-perm",
    "-user",
    "-group",
    "-uid",
    "-gid",
    "-links",
    "-inum",
    "-printf",
];

/// `find`: leading `-H/-L/-P`, then paths, then an expression made only of listed
/// tests, operators and printing actions; `-exec`, `-delete`, `-fprint` and every
/// other word are refused.
fn find_is_read_only(args: &[String]) -> bool {
    let mut words = args
        .iter()
        .map(String::as_str)
        .skip_while(|word| matches!(*word, "-H" | "-L" | "-P"))
        .skip_while(|word| !word.starts_with('-') && !matches!(*word, "!" | "(" | ")" | ","));
    while let Some(word) = words.next() {
        if FIND_WORDS.contains(&word) {
            continue;
        }
        let takes_value = FIND_TESTS_WITH_VALUE.contains(&word)
            || word
                .strip_prefix("-newer")
                .is_some_and(|xy| xy.len() == 2 && xy.chars().all(|c| "aBcmt".contains(c)))
            || matches!(word, "-samefile" | "-fstype");
        if !takes_value || words.next().is_none() {
            return false;
        }
    }
    true
}
