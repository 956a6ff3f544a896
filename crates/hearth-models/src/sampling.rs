//! Sampling settings sent with a model's requests (`temperature`, `top_p`): from
//! config (`[models."openai:NAME"] temperature = …`) or, on an Ollama server, the
//! model's own Modelfile values. Ollama's `/v1` samples at 1.0 and 1.0 when a request
//! names none, ignoring the Modelfile; other servers keep their defaults, so nothing
//! is sent unless something is known.

use serde_json::Value;

/// Temperature and nucleus sampling for one model; `None` leaves the server's value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sampling {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
}

impl Sampling {
    /// Whether nothing is set (nothing is sent).
    pub fn is_empty(&self) -> bool {
        self.temperature.is_none() && self.top_p.is_none()
    }

    /// `self`'s values, with `fallback`'s where `self` has none.
    pub fn or(self, fallback: Sampling) -> Sampling {
        Sampling {
            temperature: self.temperature.or(fallback.temperature),
            top_p: self.top_p.or(fallback.top_p),
        }
    }

    /// The `temperature` and `top_p` lines of Ollama's `/api/show` `parameters` text
    /// (one `name value` a line, e.g. `temperature                    0.7`).
    pub fn from_ollama_parameters(parameters: &str) -> Sampling {
        let mut sampling = Sampling::default();
        for line in parameters.lines() {
            let mut words = line.split_whitespace();
            let (Some(name), Some(value)) = (words.next(), words.next()) else {
                continue;
            };
            let Some(value) = value.parse::<f64>().ok().filter(|v| v.is_finite()) else {
                continue;
            };
            match name {
                "temperature" if value >= 0.0 => sampling.temperature = Some(value),
                "top_p" if value > 0.0 && value <= 1.0 => sampling.top_p = Some(value),
                _ => {}
            }
        }
        sampling
    }

    /// Sets the values that are known on a request body (both wire formats name them
    /// `temperature` and `top_p`).
    pub(crate) fn apply(&self, body: &mut Value) {
        let Some(body) = body.as_object_mut() else {
            return;
        };
        for (field, value) in [("temperature", self.temperature), ("top_p", self.top_p)] {
            if let Some(value) = value {
                body.insert(field.to_string(), Value::from(value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ollama_parameters_give_temperature_and_top_p() {
        let text = "stop                           \"<|eot_id|>\"\ntemperature                    0.7\ntop_p                          0.9\nnum_ctx 8192";
        assert_eq!(
            Sampling::from_ollama_parameters(text),
            Sampling {
                temperature: Some(0.7),
                top_p: Some(0.9)
            }
        );
        let odd = "temperature\ntemperature NaN\ntop_p 7\ntop_k 40";
        assert!(Sampling::from_ollama_parameters(odd).is_empty());
    }

    #[test]
    fn configured_values_win_and_only_known_ones_are_sent() {
        let configured = Sampling {
            temperature: Some(0.2),
            top_p: None,
        };
        let server = Sampling {
            temperature: Some(0.7),
            top_p: Some(0.9),
        };
        let merged = configured.or(server);
        assert_eq!((merged.temperature, merged.top_p), (Some(0.2), Some(0.9)));
        let mut body = json!({"model": "m"});
        configured.apply(&mut body);
        assert_eq!(body, json!({"model": "m", "temperature": 0.2}));
    }
}
