//! What a run measured, as the tables of `docs/BENCHMARKS.md`: the goals
//! judged against the run, then one table per comparison. The prose around
//! them is the document's own, written by hand ([`document`]).

mod document;
mod goals;
mod machine;
mod sections;
mod table;

pub(crate) use document::splice;
pub(crate) use machine::Machine;

use crate::cases::{
    AeadRow, BundleRow, CliCold, ColdRow, ContentionRow, DhArithmetic, Files, PerItemResult,
    RoundTrips, ScaleRow, StepsRow,
};
use document::Block;

/// What the run measured, and where.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) machine: Option<Machine>,
    pub(crate) seconds: f64,
    pub(crate) files: Files,
    pub(crate) per_item: PerItemResult,
    pub(crate) bundle: Vec<BundleRow>,
    pub(crate) cold: Vec<ColdRow>,
    pub(crate) steps: Vec<StepsRow>,
    pub(crate) cli: CliCold,
    pub(crate) dh: DhArithmetic,
    pub(crate) scaling: Vec<ScaleRow>,
    pub(crate) contention: Vec<ContentionRow>,
    pub(crate) round_trips: Vec<RoundTrips>,
    pub(crate) aead: Vec<AeadRow>,
    pub(crate) keyring_core: Vec<crate::cases::KeyringCoreRow>,
    pub(crate) rmcp: crate::cases::RmcpRow,
    /// Section 12; `None` where PostgreSQL is not installed.
    pub(crate) postgres: Option<crate::cases::PostgresRow>,
}

/// What a block says when the run could not measure it (section 12 where
/// PostgreSQL is not installed).
const NOT_MEASURED: &str = "Not measured in this run.\n\n";

impl Report {
    pub(crate) fn lost_updates(&self) -> usize {
        let replicas: usize = self
            .postgres
            .iter()
            .flat_map(|p| &p.replicas)
            .map(|r| r.lost)
            .sum();
        self.contention.iter().map(|r| r.lost).sum::<usize>() + replicas
    }

    /// The goals, one line each, for the terminal.
    pub(crate) fn summary(&self) -> String {
        goals::summary(&goals::judge(self))
    }

    /// Every generated block of `BENCHMARKS.md`.
    pub(crate) fn blocks(&self) -> Vec<Block> {
        Section::ALL
            .iter()
            .map(|&section| Block {
                name: section.name(),
                markdown: section.markdown(self),
            })
            .collect()
    }
}

/// Whether `template` has exactly the blocks a run makes, each closed:
/// checked before a run measures anything.
pub(crate) fn check_template(template: &str) -> Result<(), String> {
    let empty: Vec<Block> = Section::ALL
        .iter()
        .map(|s| Block {
            name: s.name(),
            markdown: String::new(),
        })
        .collect();
    splice(template, &empty).map(drop)
}

/// The generated blocks of `BENCHMARKS.md`.
#[derive(Clone, Copy, Debug)]
enum Section {
    Machine,
    Goals,
    Limits,
    Files,
    PerItem,
    Bundle,
    Cold,
    KeyLoadSteps,
    DhArithmetic,
    Command,
    Scaling,
    Contention,
    RoundTrips,
    Aead,
    KeyringCore,
    Rmcp,
    Postgres,
    PostgresReplicas,
}

impl Section {
    const ALL: [Self; 18] = [
        Self::Machine,
        Self::Goals,
        Self::Limits,
        Self::Files,
        Self::PerItem,
        Self::Bundle,
        Self::Cold,
        Self::KeyLoadSteps,
        Self::DhArithmetic,
        Self::Command,
        Self::Scaling,
        Self::Contention,
        Self::RoundTrips,
        Self::Aead,
        Self::KeyringCore,
        Self::Rmcp,
        Self::Postgres,
        Self::PostgresReplicas,
    ];

    /// The block's name in the document: `<!-- bench: NAME -->`.
    const fn name(self) -> &'static str {
        match self {
            Self::Machine => "machine",
            Self::Goals => "goals",
            Self::Limits => "limits",
            Self::Files => "files",
            Self::PerItem => "per-item",
            Self::Bundle => "bundle",
            Self::Cold => "cold",
            Self::KeyLoadSteps => "key-load-steps",
            Self::DhArithmetic => "dh-arithmetic",
            Self::Command => "command",
            Self::Scaling => "scaling",
            Self::Contention => "contention",
            Self::RoundTrips => "round-trips",
            Self::Aead => "aead",
            Self::KeyringCore => "keyring-core",
            Self::Rmcp => "rmcp",
            Self::Postgres => "postgres",
            Self::PostgresReplicas => "postgres-replicas",
        }
    }

    fn markdown(self, r: &Report) -> String {
        let table = match self {
            Self::Machine => r.machine.as_ref().map(|m| m.table(r.seconds)),
            Self::Goals => Some(goals::table(&goals::judge(r))),
            Self::Limits => Some(sections::limits(r)),
            Self::Files => Some(sections::files(r)),
            Self::PerItem => Some(sections::per_item(r)),
            Self::Bundle => Some(sections::bundle(r)),
            Self::Cold => Some(sections::cold(r)),
            Self::KeyLoadSteps => Some(sections::key_load_steps(r)),
            Self::DhArithmetic => Some(sections::dh_arithmetic(r)),
            Self::Command => Some(sections::command(r)),
            Self::Scaling => Some(sections::scaling(r)),
            Self::Contention => Some(sections::contention(&r.contention, "process")),
            Self::RoundTrips => Some(sections::round_trips(r)),
            Self::Aead => Some(sections::aead(r)),
            Self::KeyringCore => Some(sections::keyring_core(r)),
            Self::Rmcp => Some(sections::rmcp(r)),
            Self::Postgres => sections::postgres(r),
            Self::PostgresReplicas => r
                .postgres
                .as_ref()
                .map(|p| sections::contention(&p.replicas, "replica")),
        };
        // A blank line ends the table before the block's closing marker.
        table.map_or_else(|| NOT_MEASURED.to_owned(), |t| format!("{t}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::Section;
    use super::document::block_names;

    #[test]
    fn the_committed_document_has_every_block_a_run_makes() {
        let doc = include_str!("../../../../docs/BENCHMARKS.md");
        let mut in_doc = block_names(doc);
        in_doc.sort_unstable();
        let mut made: Vec<&str> = Section::ALL.iter().map(|s| s.name()).collect();
        made.sort_unstable();
        assert_eq!(in_doc, made);
        assert_eq!(super::check_template(doc), Ok(()));
        assert!(super::check_template("# no blocks\n").is_err());
    }
}
