//! The parts every agent of one [`Resolved`](crate::Resolved) has in common, built on
//! first use and handed to each agent after: a gateway builds an agent for every
//! session, and these came out the same each time. A part that depends on a file
//! (the secret store, the Ollama probe cache) is kept with what it was built from and
//! rebuilt when that differs, so an agent never gets a part a fresh build would not.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use hearth_models::{ModelRef, Provider, ProviderSettings};
use hearth_secrets::Redactor;
use hearth_tools::ToolContext;

/// A provider and the settings it was built from (the resolved API key among them).
type BuiltProvider = (ProviderSettings, Arc<dyn Provider>);

/// Providers by model, the redactor, and the tools' context (its HTTP client).
#[derive(Default)]
pub(crate) struct SharedParts {
    providers: Mutex<HashMap<ModelRef, BuiltProvider>>,
    /// With the secrets it knows.
    redactor: Mutex<Option<(BTreeMap<String, String>, Redactor)>>,
    /// The tools' context with a token no turn uses (each turn sets its own).
    tool_context: OnceLock<ToolContext>,
}

impl SharedParts {
    /// The provider built from `settings` for `model`: the kept one when it was built
    /// from the same settings, else a new one (kept from now on).
    pub fn provider<E>(
        &self,
        model: &ModelRef,
        settings: ProviderSettings,
        build: impl FnOnce(ProviderSettings) -> Result<Arc<dyn Provider>, E>,
    ) -> Result<Arc<dyn Provider>, E> {
        if let Some((built_from, provider)) = lock(&self.providers).get(model) {
            if *built_from == settings {
                return Ok(provider.clone());
            }
        }
        let provider = build(settings.clone())?;
        lock(&self.providers).insert(model.clone(), (settings, provider.clone()));
        Ok(provider)
    }

    /// The redactor that knows `secrets`: the kept one when it knows exactly these.
    pub fn redactor(&self, secrets: BTreeMap<String, String>) -> Redactor {
        let mut kept = lock(&self.redactor);
        match kept.as_ref() {
            Some((known, redactor)) if *known == secrets => redactor.clone(),
            _ => {
                let redactor = Redactor::new(secrets.clone());
                *kept = Some((secrets, redactor.clone()));
                redactor
            }
        }
    }

    /// The tools' context, made by `make` the first time.
    pub fn tool_context<E>(
        &self,
        make: impl FnOnce() -> Result<ToolContext, E>,
    ) -> Result<ToolContext, E> {
        if let Some(context) = self.tool_context.get() {
            return Ok(context.clone());
        }
        let context = make()?;
        Ok(self.tool_context.get_or_init(|| context).clone())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
