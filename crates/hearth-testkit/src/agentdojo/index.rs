//! AgentDojo's task index (`task_index.json`): per suite, the user tasks (prompt and
//! the names of their ground-truth calls) and the injection tasks (goal and calls).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// Every suite's tasks, as the index file lists them.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskIndex {
    pub suites: BTreeMap<String, SuiteTasks>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SuiteTasks {
    pub user_tasks: Vec<UserTask>,
    pub injection_tasks: Vec<InjectionTask>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UserTask {
    pub id: String,
    pub prompt: String,
    pub ground_truth_functions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InjectionTask {
    pub id: String,
    pub goal: String,
    pub ground_truth_functions: Vec<String>,
}

/// Why the index could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("AgentDojo task index {path}: cannot read it: {cause}; it lies in ../shared/bench/injection/ beside the repository")]
    Read { path: String, cause: std::io::Error },
    #[error("AgentDojo task index {path}: not the expected JSON: {cause}")]
    Parse {
        path: String,
        cause: serde_json::Error,
    },
}

impl TaskIndex {
    /// Reads `task_index.json` from `path`.
    pub fn load(path: &Path) -> Result<TaskIndex, IndexError> {
        let text = std::fs::read_to_string(path).map_err(|cause| IndexError::Read {
            path: path.display().to_string(),
            cause,
        })?;
        serde_json::from_str(&text).map_err(|cause| IndexError::Parse {
            path: path.display().to_string(),
            cause,
        })
    }

    /// The suite and user task whose prompt `user_text` holds (whitespace folded).
    pub fn user_task_in(&self, user_text: &str) -> Option<(&str, &SuiteTasks, &UserTask)> {
        let text = fold_whitespace(user_text);
        self.suites.iter().find_map(|(name, suite)| {
            suite
                .user_tasks
                .iter()
                .find(|task| text.contains(&fold_whitespace(&task.prompt)))
                .map(|task| (name.as_str(), suite, task))
        })
    }
}

/// Runs of whitespace as one space, trimmed: prompts are matched however they were
/// wrapped or indented on the way.
pub fn fold_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
