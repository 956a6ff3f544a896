#!/usr/bin/env python3
"""Tool-call validity and accuracy of a local model through the real agent loop.

Each task is one request with a known right answer (a tool and its key arguments). It
runs `hearth run --json --max-steps 1 --model MODEL` in a fresh HEARTH_HOME and workspace
(holding the files the tasks mention), so the model sees Hearth's real system prompt
and tool set, and reads the first step's events:

- valid: the step was either a plain answer or tool calls naming an offered tool with a
  JSON object holding its required arguments (no text that is a broken `<tool_call>`
  attempt); the offered tools and their schemas come from `hearth context --full`;
- called: the step made a tool call;
- right_tool / accurate: the first call named the expected tool / also had the expected
  argument values.

Usage: cargo build --release -p hearth && python3 bench/tool_calls.py [--model local:smollm2] [--hearth PATH] [--name-tool]
With --name-tool each request starts "Use TOOL: …", which makes hearth-local force a call of
that tool (the tool choice is then given; the arguments are the model's).
Prints one JSON object: per-task results and the totals.
"""
import argparse, json, os, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = {"notes.txt": "buy milk\n", "todo.md": "- call mum\n", "src/main.rs": "fn main() {}\n",
         "README.md": "# Demo\n", "data.csv": "a,b\n1,2\n"}
# (request, tool, expected arguments: each value must equal; "*" means any string)
TASKS = [
    ("Read the file notes.txt.", "read_file", {"path": "notes.txt"}),
    ("Show me what is in todo.md.", "read_file", {"path": "todo.md"}),
    ("Open README.md and tell me what it says.", "read_file", {"path": "README.md"}),
    ("What does src/main.rs contain?", "read_file", {"path": "src/main.rs"}),
    ("Print the contents of data.csv.", "read_file", {"path": "data.csv"}),
    ("Create a file hello.txt containing the text hello.", "write_file", {"path": "hello.txt", "content": "*"}),
    ("Write 'buy eggs' into shopping.txt.", "write_file", {"path": "shopping.txt", "content": "*"}),
    ("Save the word apple to fruit.txt.", "write_file", {"path": "fruit.txt", "content": "*"}),
    ("Make a new file called empty.md with the text draft.", "write_file", {"path": "empty.md", "content": "*"}),
    ("Write a poem about the sea to poem.txt.", "write_file", {"path": "poem.txt", "content": "*"}),
    ("List the files in the current directory.", "list_dir", {}),
    ("What files are in the src directory?", "list_dir", {"path": "src"}),
    ("Show the directory listing of the workspace.", "list_dir", {}),
    ("Find every markdown file (*.md).", "glob", {"pattern": "*"}),
    ("Find all .rs files under src.", "glob", {"pattern": "*"}),
    ("Search for the word milk in all files.", "grep", {"pattern": "milk"}),
    ("Which files mention 'main'?", "grep", {"pattern": "main"}),
    ("Search the workspace for TODO.", "grep", {"pattern": "TODO"}),
    ("Run the command `ls -la`.", "exec", {"command": "*"}),
    ("Run `echo hi` in the shell.", "exec", {"command": "*"}),
    ("Execute the shell command date.", "exec", {"command": "*"}),
    ("In notes.txt replace milk with bread.", "edit_file", {"path": "notes.txt"}),
]


def run_task(hearth, model, prompt, tmp, index):
    home = os.path.join(tmp, f"home{index}")
    workspace = os.path.join(home, "workspace")
    for path, text in FILES.items():
        os.makedirs(os.path.dirname(os.path.join(workspace, path)), exist_ok=True)
        with open(os.path.join(workspace, path), "w") as f:
            f.write(text)
    # Only the first step matters; a rambling answer is cut at 256 tokens.
    with open(os.path.join(home, "config.toml"), "w") as f:
        f.write("[limits]\nmax_output_tokens = 256\n")
    env = dict(os.environ, HEARTH_HOME=home)
    env.setdefault("HEARTH_MODELS", os.path.expanduser("~/.cache/hearth/models"))
    started = time.monotonic()
    proc = subprocess.run([hearth, "run", "--json", "--max-steps", "1", "--approval", "never",
                           "--model", model, prompt], env=env, capture_output=True, text=True,
                          timeout=900)
    seconds = time.monotonic() - started
    calls, text = [], ""
    for line in proc.stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("type") == "tool_call":
            calls.append(event["call"])
        elif event.get("type") == "text_delta":
            text += event.get("text", "")
    return calls, text, seconds, proc


def offered_tools(hearth, tmp):
    """{tool name: required argument names} of the tools a run really offers, read from
    `hearth context --full` (the schemas as built for the request)."""
    home = os.path.join(tmp, "context-home")
    os.makedirs(home, exist_ok=True)
    out = subprocess.run([hearth, "context", "--full"], env=dict(os.environ, HEARTH_HOME=home),
                         capture_output=True, text=True, check=True).stdout
    schemas = json.loads(out.split("--- tool schemas ---", 1)[1])
    return {t["name"]: t["parameters"].get("required", []) for t in schemas}


def judge(calls, text, tool, expected, offered):
    """valid: no broken call text, and every call names an offered tool with a JSON object
    holding all of that tool's required arguments."""
    valid = "<tool_call" not in text
    for call in calls:
        try:
            args = json.loads(call["arguments"])
            valid = (valid and isinstance(args, dict) and call["name"] in offered
                     and all(name in args for name in offered[call["name"]]))
        except ValueError:
            valid = False
    right_tool = bool(calls) and calls[0]["name"] == tool
    accurate = False
    if right_tool:
        args = json.loads(calls[0]["arguments"])
        accurate = all((args.get(k) is not None if v == "*" else str(args.get(k, "")).strip("./") == v)
                       for k, v in expected.items())
    return valid, right_tool, accurate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="local:smollm2")
    parser.add_argument("--hearth", default=os.path.join(ROOT, "target/release/hearth"))
    parser.add_argument("--name-tool", action="store_true",
                        help="prefix each request with 'Use TOOL: ' (small models call a named tool)")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        offered = offered_tools(args.hearth, tmp)
        for index, (prompt, tool, expected) in enumerate(TASKS):
            if args.name_tool:
                prompt = f"Use {tool}: {prompt}"
            calls, text, seconds, proc = run_task(args.hearth, args.model, prompt, tmp, index)
            valid, right_tool, accurate = judge(calls, text, tool, expected, offered)
            results.append({"prompt": prompt, "expected_tool": tool, "calls": calls,
                            "text": text[:200], "valid": valid, "right_tool": right_tool,
                            "accurate": accurate, "seconds": round(seconds, 1),
                            "exit": proc.returncode})
            print(f"{index + 1}/{len(TASKS)} valid={valid} right_tool={right_tool} "
                  f"accurate={accurate} {seconds:.1f}s", file=sys.stderr)
    n = len(results)
    print(json.dumps({
        "model": args.model, "tasks": n, "name_tool": args.name_tool,
        "validity": sum(r["valid"] for r in results) / n,
        "called": sum(bool(r["calls"]) for r in results) / n,
        "right_tool": sum(r["right_tool"] for r in results) / n,
        "accuracy": sum(r["accurate"] for r in results) / n,
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
