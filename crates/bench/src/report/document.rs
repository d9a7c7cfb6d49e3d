//! `BENCHMARKS.md` is written by hand; a run replaces only its generated
//! blocks. A block is the lines between `<!-- bench: NAME -->` and
//! `<!-- /bench -->`; every other line is kept byte for byte. A run fails,
//! writing nothing, when the document names a block the run does not make,
//! lacks one it makes, or leaves a block open: prose and tables cannot
//! drift apart unnoticed.

use std::collections::BTreeSet;

/// One generated block: its name in the document and its Markdown.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) name: &'static str,
    pub(crate) markdown: String,
}

const OPEN: &str = "<!-- bench: ";
const OPEN_END: &str = " -->";
const CLOSE: &str = "<!-- /bench -->";

/// `template` with each block's lines replaced by `blocks`' Markdown.
pub(crate) fn splice(template: &str, blocks: &[Block]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut used = BTreeSet::new();
    let mut lines = template.split_inclusive('\n');
    while let Some(line) = lines.next() {
        out.push_str(line);
        let Some(name) = opened(line) else {
            if line.trim_end() == CLOSE {
                return Err(format!("`{CLOSE}` without a block open"));
            }
            continue;
        };
        let block = blocks
            .iter()
            .find(|b| b.name == name)
            .ok_or_else(|| format!("the document has a block `{name}` that no run makes"))?;
        if !used.insert(name) {
            return Err(format!("the document has the block `{name}` twice"));
        }
        out.push_str(&block.markdown);
        if !block.markdown.ends_with('\n') {
            out.push('\n');
        }
        let close = lines
            .by_ref()
            .find(|l| l.trim_end() == CLOSE || opened(l).is_some())
            .filter(|l| l.trim_end() == CLOSE)
            .ok_or_else(|| format!("the block `{name}` is not closed with `{CLOSE}`"))?;
        out.push_str(close);
    }
    if let Some(missing) = blocks.iter().find(|b| !used.contains(b.name)) {
        return Err(format!(
            "the document has no block `{}` (add `{OPEN}{}{OPEN_END}` and `{CLOSE}` where its table goes)",
            missing.name, missing.name
        ));
    }
    Ok(out)
}

/// The names of the blocks `template` has, in order.
#[cfg(test)]
pub(crate) fn block_names(template: &str) -> Vec<&str> {
    template.lines().filter_map(opened).collect()
}

fn opened(line: &str) -> Option<&str> {
    line.trim_end().strip_prefix(OPEN)?.strip_suffix(OPEN_END)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(name: &'static str, markdown: &str) -> Block {
        Block {
            name,
            markdown: markdown.to_owned(),
        }
    }

    #[test]
    fn blocks_are_replaced_and_the_prose_is_kept_byte_for_byte() {
        let template = "# Title\n\nProse  with spaces.\n<!-- bench: a -->\nold\nolder\n<!-- /bench -->\nMore prose.\n<!-- bench: b -->\n<!-- /bench -->\n";
        let out = splice(template, &[block("a", "| new |\n"), block("b", "B")]).unwrap();
        assert_eq!(
            out,
            "# Title\n\nProse  with spaces.\n<!-- bench: a -->\n| new |\n<!-- /bench -->\nMore prose.\n<!-- bench: b -->\nB\n<!-- /bench -->\n"
        );
        // A second run over its own output changes nothing.
        let again = splice(&out, &[block("a", "| new |\n"), block("b", "B")]).unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn unknown_missing_doubled_and_unclosed_blocks_are_errors() {
        let a = || vec![block("a", "x\n")];
        let unknown = splice("<!-- bench: z -->\n<!-- /bench -->\n", &a()).unwrap_err();
        assert!(unknown.contains("`z` that no run makes"), "{unknown}");
        let missing = splice("prose\n", &a()).unwrap_err();
        assert!(missing.contains("no block `a`"), "{missing}");
        let doubled = splice(
            "<!-- bench: a -->\n<!-- /bench -->\n<!-- bench: a -->\n<!-- /bench -->\n",
            &a(),
        )
        .unwrap_err();
        assert!(doubled.contains("twice"), "{doubled}");
        let unclosed = splice("<!-- bench: a -->\nold\n", &a()).unwrap_err();
        assert!(unclosed.contains("not closed"), "{unclosed}");
        let nested = splice(
            "<!-- bench: a -->\n<!-- bench: a -->\n<!-- /bench -->\n",
            &a(),
        )
        .unwrap_err();
        assert!(nested.contains("not closed"), "{nested}");
        let stray = splice("<!-- /bench -->\n", &a()).unwrap_err();
        assert!(stray.contains("without a block open"), "{stray}");
    }
}
