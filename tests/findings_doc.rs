//! `docs/findings.md` is the catalogue as the rules list makes it: a rule added, renamed or
//! reworded shows up there, or this test fails. Re-bless with
//! `IKE_SNIFF_BLESS=1 cargo test --release --test findings_doc`.

use std::fmt::Write as _;

fn render() -> String {
    let mut s = String::from(
        "# Findings\n\n\
         Generated from the rules list (`src/diagnose/rules/mod.rs`) by `tests/findings_doc.rs`; \
         `ike-sniff --list-findings` prints the same catalogue.\n\n\
         | id | severity | title |\n| --- | --- | --- |\n",
    );
    let kinds = ike_sniff::diagnose::catalogue();
    for k in kinds {
        let _ = writeln!(
            s,
            "| [`{}`](#{}) | {} | {} |",
            k.id,
            k.id,
            k.default_severity.as_str(),
            k.title
        );
    }
    for k in kinds {
        let _ = write!(
            s,
            "\n## {}\n\n{} ({}).\n\n{}\n\n**Remedy:** {}\n",
            k.id,
            k.title,
            k.default_severity.as_str(),
            k.explanation,
            k.remedy
        );
    }
    s
}

#[test]
fn docs_findings_md_is_the_catalogue() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/findings.md");
    let want = render();
    if std::env::var_os("IKE_SNIFF_BLESS").is_some() {
        std::fs::write(path, &want).expect("docs/findings.md written");
        return;
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "docs/findings.md is out of date: IKE_SNIFF_BLESS=1 cargo test --release --test findings_doc"
    );
}
