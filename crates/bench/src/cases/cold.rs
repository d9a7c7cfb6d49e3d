//! Cold start.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use keyseal_keys::SessionAlgorithm;

use crate::children::{self};
use crate::common::{self, Contender, Result, contender, interleave_all, name, seed, value};
use crate::stats::Summary;

use super::{Bench, nanos, numbers, ratio, summary};

/// A new process opening a store of 100 entries and reading one.
#[derive(Debug)]
pub(crate) struct ColdRow {
    pub(crate) backend: &'static str,
    /// Process start to value in hand.
    pub(crate) total: Summary,
    /// The part spent loading the key from the keyring.
    pub(crate) keyring: Summary,
    /// The rest: opening, decrypting and decoding the file.
    pub(crate) beyond: Summary,
    /// Spawn to exit, seen from the parent.
    pub(crate) process: Summary,
}

impl Bench {
    pub(crate) fn cold_start(&self, entries: usize) -> Result<Vec<ColdRow>> {
        common::fresh_dir(&self.path("cold"))?;
        let backends: [(&'static str, &str); 3] = [
            ("Secret Service, plain session", "secret-service:plain"),
            ("Secret Service, dh session", "secret-service:dh"),
            ("kernel keyring", "kernel"),
        ];
        let mut stores = Vec::new();
        for (label, arg) in backends {
            let file = arg.replace(':', "-");
            let path = self.path(&format!("cold/{file}.sealed"));
            let service = format!("{}-cold-{file}", self.service);
            let (store, _) = children::keyring_store(children::keyring(arg)?, &service, &path);
            seed(&store, entries)?;
            stores.push((label, arg, service, path.display().to_string()));
        }
        let target = name(entries / 2);
        let mut inside: Vec<Vec<(u128, u128)>> = vec![Vec::new(); stores.len()];
        let mut contenders: Vec<Contender<'_>> = Vec::new();
        for ((_, arg, service, path), inside) in stores.iter().zip(inside.iter_mut()) {
            let target = &target;
            contenders.push(contender(arg, move |_| {
                let line = self.child_output(&["cold-start", arg, service, path, target])?;
                match numbers(&line)?.as_slice() {
                    [total, keyring] => inside.push((*total, *keyring)),
                    _ => return Err(format!("cold-start printed {line:?}").into()),
                }
                Ok(())
            }));
        }
        let warmup = 1;
        let process = interleave_all(
            warmup,
            if self.plan.quick { 8 } else { 30 },
            &mut contenders,
        )?;
        drop(contenders);
        let mut rows = Vec::new();
        for (((label, ..), inside), process) in stores.iter().zip(&inside).zip(&process) {
            let kept = inside.get(warmup..).unwrap_or_default();
            let total: Vec<Duration> = kept.iter().map(|(t, _)| nanos(*t)).collect();
            let keyring: Vec<Duration> = kept.iter().map(|(_, k)| nanos(*k)).collect();
            let beyond: Vec<Duration> = kept
                .iter()
                .map(|(t, k)| nanos(t.saturating_sub(*k)))
                .collect();
            rows.push(ColdRow {
                backend: label,
                total: summary(&total)?,
                keyring: summary(&keyring)?,
                beyond: summary(&beyond)?,
                process: summary(process)?,
            });
        }
        Ok(rows)
    }
}

/// The steps of one Secret Service key load in a new process, with one
/// session algorithm.
#[derive(Debug)]
pub(crate) struct StepsRow {
    pub(crate) algorithm: SessionAlgorithm,
    pub(crate) connection: Summary,
    pub(crate) session: Summary,
    pub(crate) search: Summary,
    pub(crate) secret: Summary,
}

/// The client's Diffie-Hellman arithmetic for one session, two ways.
#[derive(Debug)]
pub(crate) struct DhArithmetic {
    pub(crate) schoolbook: Summary,
    pub(crate) montgomery: Summary,
}

impl Bench {
    pub(crate) fn dh_arithmetic(&self) -> Result<DhArithmetic> {
        let rounds = if self.plan.quick { 10 } else { 40 };
        let (mut slow, mut fast) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (s, f) = crate::keyring::dh_client_arithmetic()?;
            slow.push(s);
            fast.push(f);
        }
        Ok(DhArithmetic {
            schoolbook: summary(&slow)?,
            montgomery: summary(&fast)?,
        })
    }
}

/// The `keyseal` command from spawn to exit: a process that only starts
/// and exits, and `keyseal get` of one entry with its key in the Secret
/// Service, with each session algorithm.
#[derive(Debug)]
pub(crate) struct CliCold {
    pub(crate) version: Summary,
    pub(crate) gets: Vec<CliGet>,
}

/// `keyseal get` with one session algorithm, and its ratio to
/// `keyseal --version`, round by round.
#[derive(Debug)]
pub(crate) struct CliGet {
    pub(crate) algorithm: SessionAlgorithm,
    pub(crate) get: Summary,
    pub(crate) ratio: Summary,
}

impl Bench {
    pub(crate) fn secret_service_steps(&self) -> Result<Vec<StepsRow>> {
        let service = format!("{}-cold-secret-service-plain", self.service);
        // The cold-start store's key is the service's only item.
        let items = keyseal_keys::KeyringItems::new();
        let item = items
            .search(&service)?
            .into_iter()
            .next()
            .ok_or("the cold-start store has no key item")?;
        let rounds = if self.plan.quick { 8 } else { 30 };
        let mut rows = Vec::new();
        for algorithm in SessionAlgorithm::ALL {
            let arg = algorithm.to_string();
            let mut steps: [Vec<Duration>; 4] = Default::default();
            for round in 0..=rounds {
                let line = self.child_output(&["ss-steps", &arg, &service, &item])?;
                let numbers = numbers(&line)?;
                if round == 0 {
                    continue; // warm-up
                }
                for (all, n) in steps.iter_mut().zip(numbers) {
                    all.push(nanos(n));
                }
            }
            let [connection, session, search, secret] = steps;
            rows.push(StepsRow {
                algorithm,
                connection: summary(&connection)?,
                session: summary(&session)?,
                search: summary(&search)?,
                secret: summary(&secret)?,
            });
        }
        Ok(rows)
    }

    pub(crate) fn cli_cold(&self) -> Result<CliCold> {
        let keyseal = std::env::current_exe()?.with_file_name("keyseal");
        if !keyseal.exists() {
            return Err(format!("{} is missing: build keyseal-cli too", keyseal.display()).into());
        }
        common::fresh_dir(&self.path("cli"))?;
        let store = self.path("cli/store.sealed");
        let service = format!("{}-cli", self.service);
        let command = |args: &[&str], session: &str| {
            let mut cmd = Command::new(&keyseal);
            cmd.args(args)
                .env("KEYSEAL_KEYS", "keyring")
                .env("KEYSEAL_SERVICE", &service)
                .env("KEYSEAL_STORE", &store)
                .env("KEYSEAL_SECRET_SERVICE_SESSION", session)
                .env("XDG_STATE_HOME", self.path("cli/state"))
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            cmd
        };
        let mut seed = command(&["set", "token"], "dh")
            .stdin(Stdio::piped())
            .spawn()?;
        seed.stdin
            .take()
            .ok_or("no stdin")?
            .write_all(value(0, 0).as_bytes())?;
        if !seed.wait()?.success() {
            return Err("keyseal set failed".into());
        }
        let run = |args: &[&str], session: &str| -> Result {
            let out = command(args, session).output()?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "keyseal {args:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
                .into())
            }
        };
        let sessions: Vec<String> = SessionAlgorithm::ALL
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut contenders = vec![contender("keyseal --version", |_| {
            run(&["--version"], "dh")
        })];
        for session in &sessions {
            contenders.push(contender("keyseal get", move |_| {
                run(&["get", "token"], session)
            }));
        }
        let times = interleave_all(2, if self.plan.quick { 10 } else { 40 }, &mut contenders)?;
        drop(contenders);
        let Some((version, get_times)) = times.split_first() else {
            return Err("no measurements".into());
        };
        let mut gets = Vec::new();
        for (algorithm, get) in SessionAlgorithm::ALL.into_iter().zip(get_times) {
            gets.push(CliGet {
                algorithm,
                get: summary(get)?,
                ratio: ratio(get, version)?,
            });
        }
        Ok(CliCold {
            version: summary(version)?,
            gets,
        })
    }
}
