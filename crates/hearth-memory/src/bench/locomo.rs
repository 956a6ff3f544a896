//! Reading LoCoMo's JSON: conversations (sessions of turns with their dates) and
//! their questions with evidence, malformed evidence ids normalised.

use std::path::Path;

use serde_json::Value;

use crate::error::MemoryError;

/// One turn of a LoCoMo conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// "D3:5": session 3, turn 5.
    pub dia_id: String,
    pub speaker: String,
    /// The turn's text; a shared photo is appended as `[shares a photo: caption]`.
    pub text: String,
}

/// One session: its number, date string and turns in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub number: u32,
    pub date: String,
    pub turns: Vec<Turn>,
}

/// One question and the turns that answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub question: String,
    pub category: u32,
    /// Normalised evidence ids ("D3:5"), each once, in the file's order.
    pub evidence: Vec<String>,
}

/// A sample: a conversation and its questions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: String,
    pub sessions: Vec<Session>,
    pub questions: Vec<Question>,
}

impl Conversation {
    pub fn turn_count(&self) -> usize {
        self.sessions.iter().map(|s| s.turns.len()).sum()
    }
}

/// Reads a LoCoMo file (a list of samples).
pub fn load(path: &Path) -> Result<Vec<Conversation>, MemoryError> {
    let bytes = std::fs::read(path).map_err(|source| MemoryError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| MemoryError::Dataset {
        path: path.to_path_buf(),
        reason,
    };
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let samples = value
        .as_array()
        .ok_or_else(|| bad("the top level is not a list of samples".into()))?;
    samples
        .iter()
        .enumerate()
        .map(|(i, sample)| parse_sample(sample, i).map_err(bad))
        .collect()
}

fn parse_sample(sample: &Value, index: usize) -> Result<Conversation, String> {
    let id = sample["sample_id"]
        .as_str()
        .map_or_else(|| format!("sample-{index}"), String::from);
    let conversation = sample["conversation"]
        .as_object()
        .ok_or_else(|| format!("sample {id} has no `conversation` object"))?;
    let mut sessions = Vec::new();
    for (key, value) in conversation {
        let Some(number) = key
            .strip_prefix("session_")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(turns) = value.as_array() else {
            continue;
        };
        let date = conversation
            .get(&format!("session_{number}_date_time"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("sample {id}: session_{number} has no date_time"))?
            .to_string();
        let turns = turns
            .iter()
            .filter_map(|t| {
                let text = t["text"].as_str()?;
                let text = match t["blip_caption"].as_str() {
                    Some(caption) => format!("{text} [shares a photo: {caption}]"),
                    None => text.to_string(),
                };
                Some(Turn {
                    dia_id: t["dia_id"].as_str()?.to_string(),
                    speaker: t["speaker"].as_str()?.to_string(),
                    text,
                })
            })
            .collect();
        sessions.push(Session {
            number,
            date,
            turns,
        });
    }
    sessions.sort_by_key(|s| s.number);
    let questions = sample["qa"]
        .as_array()
        .map(|qa| qa.iter().filter_map(parse_question).collect())
        .unwrap_or_default();
    Ok(Conversation {
        id,
        sessions,
        questions,
    })
}

fn parse_question(qa: &Value) -> Option<Question> {
    let mut evidence: Vec<String> = Vec::new();
    for raw in qa["evidence"].as_array()?.iter().filter_map(Value::as_str) {
        for id in normalise_evidence(raw) {
            if !evidence.contains(&id) {
                evidence.push(id);
            }
        }
    }
    Some(Question {
        question: qa["question"].as_str()?.to_string(),
        category: u32::try_from(qa["category"].as_u64()?).ok()?,
        evidence,
    })
}

/// "D3:5" → ["D3:5"]; "D:11:26" → ["D11:26"]; "D8:6; D9:17" → both; "D" → none.
pub fn normalise_evidence(raw: &str) -> Vec<String> {
    raw.split([';', ','])
        .filter_map(|part| {
            let numbers: Vec<&str> = part
                .split(|c: char| !c.is_ascii_digit())
                .filter(|n| !n.is_empty())
                .collect();
            match numbers.as_slice() {
                [session, turn] => Some(format!(
                    "D{}:{}",
                    session.trim_start_matches('0'),
                    turn.trim_start_matches('0')
                )),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_evidence_is_normalised() {
        assert_eq!(normalise_evidence("D3:5"), ["D3:5"]);
        assert_eq!(normalise_evidence("D:11:26"), ["D11:26"]);
        assert_eq!(normalise_evidence("D8:6; D9:17"), ["D8:6", "D9:17"]);
        assert!(normalise_evidence("D").is_empty());
    }
}
