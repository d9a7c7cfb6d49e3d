//! The layouts keyseal replaces, through a real Secret Service: one keyring
//! item per secret, and one bundle item holding them all. Also a key
//! provider wrapper that counts and times keyseal's own keyring calls, and
//! the steps of one Secret Service key load, timed apart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use keyseal_keys::{Key, KeyId, KeyProvider, ProviderInfo, SessionAlgorithm};
use secret_service::EncryptionType;
use secret_service::blocking::SecretService;

use crate::common::Result;

/// The `secret-service` crate's name for a session algorithm.
pub(crate) fn encryption(algorithm: SessionAlgorithm) -> EncryptionType {
    match algorithm {
        SessionAlgorithm::DiffieHellman => EncryptionType::Dh,
        _ => EncryptionType::Plain,
    }
}

/// One keyring item per secret in the default collection, with the
/// attributes keyring-core writes (`service`, `username`): the way
/// applications used the `keyring` crate before keyseal. The session uses
/// the same algorithm as the keyseal store it is compared with. Counts its
/// keyring operations.
pub(crate) struct PerItem {
    ss: SecretService<'static>,
    pub(crate) service: String,
    calls: AtomicUsize,
}

impl core::fmt::Debug for PerItem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PerItem")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl PerItem {
    pub(crate) fn connect(service: &str, algorithm: SessionAlgorithm) -> Result<Self> {
        Ok(Self {
            ss: SecretService::connect(encryption(algorithm))?,
            service: service.to_owned(),
            calls: AtomicUsize::new(0),
        })
    }

    fn attributes<'a>(&'a self, name: &'a str) -> HashMap<&'a str, &'a str> {
        [("service", self.service.as_str()), ("username", name)].into()
    }

    pub(crate) fn set(&self, name: &str, value: &[u8]) -> Result {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let collection = self.ss.get_default_collection()?;
        collection.create_item(
            name,
            self.attributes(name),
            value,
            true,
            "application/octet-stream",
        )?;
        Ok(())
    }

    pub(crate) fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let found = self.ss.search_items(self.attributes(name))?;
        match found.unlocked.first() {
            Some(item) => Ok(Some(item.get_secret()?)),
            None => Ok(None),
        }
    }

    pub(crate) fn remove(&self, name: &str) -> Result<bool> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let found = self.ss.search_items(self.attributes(name))?;
        for item in &found.unlocked {
            item.delete()?;
        }
        Ok(!found.unlocked.is_empty())
    }

    /// The names of every item of the service (a Secret Service search).
    pub(crate) fn list(&self) -> Result<Vec<String>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let spec: HashMap<&str, &str> = [("service", self.service.as_str())].into();
        let mut names = Vec::new();
        for item in self.ss.search_items(spec)?.unlocked {
            if let Some(name) = item.get_attributes()?.remove("username") {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Keyring operations so far.
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// Removes every item of the service (not counted).
    pub(crate) fn clear(&self) -> Result {
        let spec: HashMap<&str, &str> = [("service", self.service.as_str())].into();
        for item in self.ss.search_items(spec)?.unlocked {
            item.delete()?;
        }
        Ok(())
    }
}

/// The 1024-bit MODP group of the `dh-ietf1024-sha256-aes128-cbc-pkcs7`
/// session (RFC 2409, group 2), generator 2.
const DH_PRIME_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF";

/// The client's arithmetic of one Diffie-Hellman session (its public key
/// and the shared secret: two exponentiations with a 1024-bit private
/// exponent), timed two ways: `schoolbook`, square-and-multiply with a
/// full division after each product, as the `secret-service` crate's
/// `powm` computes it; `montgomery`, `BigUint::modpow`.
pub(crate) fn dh_client_arithmetic() -> Result<(std::time::Duration, std::time::Duration)> {
    use num_bigint::BigUint;
    let prime = BigUint::parse_bytes(DH_PRIME_HEX.as_bytes(), 16).ok_or("the prime")?;
    let two = BigUint::from(2u32);
    let mut private = [0u8; 128];
    keyseal_seal::Key::generate()?
        .expose_secret()
        .iter()
        .cycle()
        .zip(private.iter_mut())
        .for_each(|(b, slot)| *slot = *b);
    let private = BigUint::from_bytes_be(&private);
    let schoolbook = |base: &BigUint| {
        let (mut base, mut exp, mut result) = (base.clone(), private.clone(), BigUint::from(1u32));
        while exp != BigUint::ZERO {
            if exp.bit(0) {
                result = (&result * &base) % &prime;
            }
            exp >>= 1;
            base = (&base * &base) % &prime;
        }
        result
    };
    let started = Instant::now();
    let public = schoolbook(&two);
    let shared = schoolbook(&public);
    let slow = started.elapsed();
    let started = Instant::now();
    let public_fast = two.modpow(&private, &prime);
    let shared_fast = public_fast.modpow(&private, &prime);
    let fast = started.elapsed();
    if public != public_fast || shared != shared_fast {
        return Err("the two exponentiations disagree".into());
    }
    Ok((slow, fast))
}

/// The steps of one Secret Service key load in a new process, in
/// nanoseconds: the D-Bus connection, the session (with its algorithm),
/// the search for the item, and its secret.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LoadSteps {
    pub(crate) connection: u128,
    pub(crate) session: u128,
    pub(crate) search: u128,
    pub(crate) secret: u128,
}

/// Loads the item `name` of `service` once, step by step.
pub(crate) fn load_steps(
    algorithm: SessionAlgorithm,
    service: &str,
    name: &str,
) -> Result<LoadSteps> {
    let started = Instant::now();
    let connection = zbus::blocking::Connection::session()?;
    let connected = started.elapsed().as_nanos();
    let ss = SecretService::connect_with_existing(encryption(algorithm), connection)?;
    let opened = started.elapsed().as_nanos();
    let attributes: HashMap<&str, &str> = [("service", service), ("username", name)].into();
    let found = ss.search_items(attributes)?;
    let searched = started.elapsed().as_nanos();
    let item = found.unlocked.first().ok_or("the item is missing")?;
    let secret = item.get_secret()?;
    let read = started.elapsed().as_nanos();
    if secret.is_empty() {
        return Err("the item is empty".into());
    }
    Ok(LoadSteps {
        connection: connected,
        session: opened - connected,
        search: searched - opened,
        secret: read - searched,
    })
}

/// Wraps keyseal's key provider to count its calls and time its loads.
#[derive(Debug)]
pub(crate) struct Counting<P> {
    inner: P,
    calls: AtomicUsize,
    load_nanos: AtomicU64,
}

impl<P> Counting<P> {
    pub(crate) fn new(inner: P) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
            load_nanos: AtomicU64::new(0),
        }
    }

    /// Keyring operations so far.
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// Time spent in `load`, in nanoseconds.
    pub(crate) fn load_nanos(&self) -> u64 {
        self.load_nanos.load(Ordering::Relaxed)
    }

    fn count<T>(&self, f: impl FnOnce() -> T) -> T {
        self.calls.fetch_add(1, Ordering::Relaxed);
        f()
    }
}

impl<P: KeyProvider> KeyProvider for Counting<P> {
    fn info(&self) -> ProviderInfo {
        self.inner.info()
    }

    fn load(&self, id: &KeyId) -> keyseal_keys::Result<Key> {
        let started = Instant::now();
        let key = self.count(|| self.inner.load(id));
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.load_nanos.fetch_add(nanos, Ordering::Relaxed);
        key
    }

    fn create(&self) -> keyseal_keys::Result<Key> {
        self.count(|| self.inner.create())
    }

    fn delete(&self, id: &KeyId) -> keyseal_keys::Result<()> {
        self.count(|| self.inner.delete(id))
    }

    fn given(&self) -> Option<keyseal_keys::Result<Key>> {
        self.count(|| self.inner.given())
    }
}
