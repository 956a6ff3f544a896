//! `SKILL.md`: splitting the YAML frontmatter from the body and checking every field
//! against the Agent Skills specification.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

/// Longest `name`, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest `description`, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Longest `compatibility`, in characters.
pub const MAX_COMPATIBILITY_CHARS: usize = 500;
/// Largest `SKILL.md` read, in bytes (the spec asks for bodies under ~5,000 words).
pub const MAX_SKILL_FILE_BYTES: u64 = 1024 * 1024;

const KNOWN_FIELDS: [&str; 6] = [
    "name",
    "description",
    "license",
    "compatibility",
    "metadata",
    "allowed-tools",
];

/// The frontmatter fields of a valid skill.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SkillMeta {
    pub name: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Space-separated tool names the skill expects (experimental in the spec; recorded,
    /// not enforced).
    #[serde(rename = "allowed-tools", skip_serializing_if = "Option::is_none")]
    pub allowed_tools: Option<String>,
}

/// A valid skill: its metadata, where it lives, and anything worth a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skill {
    pub meta: SkillMeta,
    /// The skill's folder.
    pub dir: PathBuf,
    /// The folder's `SKILL.md`.
    pub path: PathBuf,
    /// The Markdown after the frontmatter.
    pub body: String,
    /// Non-fatal findings, e.g. frontmatter fields the spec does not define.
    pub warnings: Vec<String>,
}

/// Why a skill folder is not a valid skill. Each message names the file, the cause and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkillError {
    #[error("{dir}: no SKILL.md in this folder; add one with a YAML frontmatter (`hearth skills new NAME` writes a valid one)")]
    Missing { dir: PathBuf },
    #[error("{path}: cannot read it: {cause}; check that it is a readable text file under 1 MiB")]
    Read { path: PathBuf, cause: String },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

impl SkillError {
    fn invalid(path: &Path, problem: impl Into<String>) -> Self {
        SkillError::Invalid {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
}

/// Reads and validates the skill in folder `dir` (its `SKILL.md`; `name` must equal
/// the folder's name).
pub fn load_skill(dir: &Path) -> Result<Skill, SkillError> {
    let path = dir.join("SKILL.md");
    let metadata = match std::fs::metadata(&path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(SkillError::Missing {
                dir: dir.to_path_buf(),
            })
        }
        Err(err) => {
            return Err(SkillError::Read {
                path,
                cause: err.to_string(),
            })
        }
    };
    if metadata.len() > MAX_SKILL_FILE_BYTES {
        return Err(SkillError::Read {
            path,
            cause: format!("it is {} bytes", metadata.len()),
        });
    }
    let text = std::fs::read_to_string(&path).map_err(|err| SkillError::Read {
        path: path.clone(),
        cause: err.to_string(),
    })?;
    let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    parse_skill_file(&text, &path, folder).map(|(meta, body, warnings)| Skill {
        meta,
        dir: dir.to_path_buf(),
        path: path.clone(),
        body,
        warnings,
    })
}

/// Parses `SKILL.md` text: returns the metadata, the body and warnings. `path` is used in
/// messages; `folder` is the name the skill's `name` must equal.
pub fn parse_skill_file(
    text: &str,
    path: &Path,
    folder: &str,
) -> Result<(SkillMeta, String, Vec<String>), SkillError> {
    let (yaml, body) = split_frontmatter(text).ok_or_else(|| {
        SkillError::invalid(
            path,
            "no YAML frontmatter; the file must start with a line '---', then the fields \
             (name, description, ...), then a line '---'",
        )
    })?;
    let docs = YamlLoader::load_from_str(yaml).map_err(|err| {
        SkillError::invalid(
            path,
            format!(
                "the frontmatter is not valid YAML ({err}); quote values that contain ': ' or start with a special character"
            ),
        )
    })?;
    let Some(Yaml::Hash(fields)) = docs.first() else {
        return Err(SkillError::invalid(
            path,
            "the frontmatter is not a mapping of fields; write 'name: ...' and 'description: ...' lines",
        ));
    };
    let mut warnings = Vec::new();
    for key in fields.keys() {
        let key = key.as_str().unwrap_or("(non-text key)");
        if !KNOWN_FIELDS.contains(&key) {
            warnings.push(format!(
                "{}: unknown frontmatter field '{key}' ignored; the spec defines {}",
                path.display(),
                KNOWN_FIELDS.join(", ")
            ));
        }
    }
    let field = |name: &str| fields.get(&Yaml::String(name.to_string()));
    let name = required_text(path, "name", field("name"))?;
    check_name(path, &name, folder)?;
    let description = required_text(path, "description", field("description"))?;
    check_length(path, "description", &description, MAX_DESCRIPTION_CHARS)?;
    let license = optional_text(path, "license", field("license"))?;
    let compatibility = optional_text(path, "compatibility", field("compatibility"))?;
    if let Some(text) = &compatibility {
        check_length(path, "compatibility", text, MAX_COMPATIBILITY_CHARS)?;
    }
    let allowed_tools = optional_text(path, "allowed-tools", field("allowed-tools"))?;
    let metadata = string_map(path, field("metadata"))?;
    let meta = SkillMeta {
        name,
        description,
        license,
        compatibility,
        metadata,
        allowed_tools,
    };
    Ok((meta, body.trim().to_string(), warnings))
}

/// Splits `---\nYAML\n---\nBODY` into (YAML, BODY); `None` without a frontmatter.
fn split_frontmatter(text: &str) -> Option<(&str, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return Some((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
}

fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(text) => Some(text.clone()),
        Yaml::Integer(number) => Some(number.to_string()),
        Yaml::Real(text) => Some(text.clone()),
        Yaml::Boolean(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn required_text(path: &Path, name: &str, value: Option<&Yaml>) -> Result<String, SkillError> {
    match optional_text(path, name, value)? {
        Some(text) => Ok(text),
        None => Err(SkillError::invalid(
            path,
            format!("the required field '{name}' is missing; add '{name}: ...' to the frontmatter"),
        )),
    }
}

fn optional_text(
    path: &Path,
    name: &str,
    value: Option<&Yaml>,
) -> Result<Option<String>, SkillError> {
    match value {
        None | Some(Yaml::Null) => Ok(None),
        Some(value) => match scalar_text(value) {
            Some(text) if text.trim().is_empty() => Err(SkillError::invalid(
                path,
                format!("the field '{name}' is empty; give it a value or remove it"),
            )),
            Some(text) => Ok(Some(text.trim().to_string())),
            None => Err(SkillError::invalid(
                path,
                format!("the field '{name}' must be text, not a list or a mapping"),
            )),
        },
    }
}

fn check_length(path: &Path, name: &str, text: &str, max: usize) -> Result<(), SkillError> {
    let chars = text.chars().count();
    if chars > max {
        return Err(SkillError::invalid(
            path,
            format!("'{name}' is {chars} characters; the spec allows at most {max}, so shorten it"),
        ));
    }
    Ok(())
}

/// `name`: 1–64 of `[a-z0-9-]`, no leading, trailing or doubled hyphen, equal to the folder.
fn check_name(path: &Path, name: &str, folder: &str) -> Result<(), SkillError> {
    check_length(path, "name", name, MAX_NAME_CHARS)?;
    let problem = if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        Some(format!(
            "'name: {name}' contains '{bad}'; use only lowercase letters a-z, digits and hyphens"
        ))
    } else if name.starts_with('-') || name.ends_with('-') {
        Some(format!(
            "'name: {name}' starts or ends with a hyphen; remove it"
        ))
    } else if name.contains("--") {
        Some(format!(
            "'name: {name}' contains two hyphens in a row; use single hyphens"
        ))
    } else if name != folder {
        Some(format!(
            "'name: {name}' differs from its folder '{folder}'; rename the folder or the skill so they match"
        ))
    } else {
        None
    };
    problem.map_or(Ok(()), |problem| Err(SkillError::invalid(path, problem)))
}

fn string_map(path: &Path, value: Option<&Yaml>) -> Result<BTreeMap<String, String>, SkillError> {
    let mut map = BTreeMap::new();
    let fields = match value {
        None | Some(Yaml::Null) => return Ok(map),
        Some(Yaml::Hash(fields)) => fields,
        Some(_) => {
            return Err(SkillError::invalid(
                path,
                "'metadata' must be a mapping of text keys to text values, e.g. 'metadata:\\n  author: me'",
            ))
        }
    };
    for (key, value) in fields {
        match (scalar_text(key), scalar_text(value)) {
            (Some(key), Some(value)) => {
                map.insert(key, value);
            }
            _ => {
                return Err(SkillError::invalid(
                    path,
                    "'metadata' must map text keys to text values; nested lists or mappings are not allowed",
                ))
            }
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(SkillMeta, String, Vec<String>), SkillError> {
        parse_skill_file(text, Path::new("x/pdf/SKILL.md"), "pdf")
    }

    fn problem(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_full_frontmatter_parses() {
        let (meta, body, warnings) = parse(
            "---\nname: pdf\ndescription: \"Work with PDFs: fill forms\"\nlicense: MIT\n\
             compatibility: needs python3\nmetadata:\n  author: me\n  version: 1.0\n\
             allowed-tools: Bash(python3:*) Read\n---\n# PDF\nSteps.\n",
        )
        .unwrap();
        assert_eq!(meta.name, "pdf");
        assert_eq!(meta.description, "Work with PDFs: fill forms");
        assert_eq!(meta.license.as_deref(), Some("MIT"));
        assert_eq!(meta.metadata["version"], "1.0");
        assert_eq!(meta.allowed_tools.as_deref(), Some("Bash(python3:*) Read"));
        assert_eq!(body, "# PDF\nSteps.");
        assert!(warnings.is_empty());
    }

    #[test]
    fn each_rule_of_the_spec_is_enforced_with_a_reason() {
        assert!(problem("# no frontmatter").contains("no YAML frontmatter"));
        assert!(problem("---\nname: pdf\n").contains("no YAML frontmatter"));
        assert!(problem("---\nname: [pdf\n---\n").contains("not valid YAML"));
        assert!(problem("---\ndescription: d\n---\n").contains("'name' is missing"));
        assert!(problem("---\nname: pdf\n---\n").contains("'description' is missing"));
        assert!(problem("---\nname: pdf\ndescription: ''\n---\n").contains("is empty"));
        assert!(problem("---\nname: PDF\ndescription: d\n---\n").contains("contains 'P'"));
        assert!(problem("---\nname: -pdf\ndescription: d\n---\n").contains("hyphen"));
        assert!(problem("---\nname: p--df\ndescription: d\n---\n").contains("two hyphens"));
        assert!(problem("---\nname: docx\ndescription: d\n---\n")
            .contains("differs from its folder 'pdf'"));
        let long = format!("---\nname: pdf\ndescription: {}\n---\n", "d".repeat(1025));
        assert!(problem(&long).contains("1025 characters"));
        assert!(
            problem("---\nname: pdf\ndescription: d\nmetadata: [a]\n---\n")
                .contains("'metadata' must be a mapping")
        );
        assert!(problem("---\nname: pdf\ndescription: [a, b]\n---\n").contains("must be text"));
        let name = "a".repeat(65);
        let err = parse_skill_file(
            &format!("---\nname: {name}\ndescription: d\n---\n"),
            Path::new("SKILL.md"),
            &name,
        )
        .unwrap_err();
        assert!(err.to_string().contains("at most 64"));
    }

    #[test]
    fn unknown_fields_are_warnings_not_errors() {
        let (_, _, warnings) = parse("---\nname: pdf\ndescription: d\nmodel: x\n---\n").unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("unknown frontmatter field 'model'"));
    }

    #[test]
    fn crlf_and_bom_are_accepted() {
        let (meta, body, _) =
            parse("\u{feff}---\r\nname: pdf\r\ndescription: d\r\n---\r\nbody\r\n").unwrap();
        assert_eq!(meta.description, "d");
        assert_eq!(body, "body");
    }
}

/// Random `SKILL.md` text (skills come from anywhere): never a panic, a skill or an
/// error that names the file.
#[cfg(test)]
mod properties {
    use std::path::Path;

    use proptest::prelude::*;

    use super::parse_skill_file;

    fn parses_or_names_the_file(text: &str) -> Result<(), TestCaseError> {
        let path = Path::new("skills/demo/SKILL.md");
        if let Err(error) = parse_skill_file(text, path, "demo") {
            prop_assert!(error.to_string().contains("SKILL.md"), "{error}");
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn arbitrary_frontmatter_is_parsed_or_refused(
            fields in proptest::collection::vec("(name|description|license|metadata|allowed-tools|[a-z]{1,8}): ?[ -~]{0,30}", 0..8),
            body in "[ -~\n]{0,80}",
            fenced in any::<bool>(),
        ) {
            let fence = if fenced { "---\n" } else { "" };
            parses_or_names_the_file(&format!("{fence}{}\n{fence}{body}", fields.join("\n")))?;
        }

        #[test]
        fn arbitrary_text_is_parsed_or_refused(text in "(---\n|name: demo\n|[ -~\n]){0,120}") {
            parses_or_names_the_file(&text)?;
        }
    }

    #[test]
    fn deeply_nested_yaml_is_refused_not_a_crash() {
        for open in ["[", "{a: "] {
            let text = format!(
                "---\nname: demo\ndescription: {}\n---\nbody",
                open.repeat(100_000)
            );
            parses_or_names_the_file(&text).unwrap();
        }
    }
}
