//! The [`KeyProvider`](crate::KeyProvider) of a provider whose one key is
//! given from outside (an environment variable, a key file): `load` and
//! `given` answer with that key, and `create` and `delete` are refused.

/// Implements `KeyProvider` for `$provider`, which has `fn location(&self)
/// -> String` and `fn read(&self) -> Result<Key>`, as a read-only provider
/// of kind `$kind` whose key lives outside keyseal (`KeyLifetime::External`).
macro_rules! given_key_provider {
    ($provider:ty, $kind:expr) => {
        impl $crate::KeyProvider for $provider {
            fn info(&self) -> $crate::ProviderInfo {
                $crate::ProviderInfo::new($kind, $crate::KeyLifetime::External, self.location())
            }

            fn load(&self, id: &$crate::KeyId) -> $crate::Result<$crate::Key> {
                // The one key, whatever the id: a file sealed for another key
                // is then reported as the wrong key.
                let _ = id;
                self.read()
            }

            fn create(&self) -> $crate::Result<$crate::Key> {
                Err($crate::Error::ReadOnly {
                    location: self.location(),
                    operation: "create",
                })
            }

            fn delete(&self, id: &$crate::KeyId) -> $crate::Result<()> {
                let _ = id;
                Err($crate::Error::ReadOnly {
                    location: self.location(),
                    operation: "delete",
                })
            }

            fn given(&self) -> Option<$crate::Result<$crate::Key>> {
                Some(self.read())
            }
        }
    };
}

pub(crate) use given_key_provider;
