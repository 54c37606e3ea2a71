//! A flood that fills a capped table is said once, on standard error, naming the table and its
//! cap, whatever the thread mode (issue 13): the run goes on with the least recently seen
//! entries evicted, and the operator knows the findings may be missing some.

use std::process::Command;

/// An IPv4 ESP packet (LINKTYPE_RAW) with `spi`.
fn esp(spi: u32) -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 44, 0, 1, 0x40, 0, 64, 50, 0, 0];
    p.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2]);
    p.extend_from_slice(&spi.to_be_bytes());
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend_from_slice(&[0x5a; 16]);
    p
}

#[test]
fn an_spi_flood_warns_once_that_the_esp_sa_table_evicted() {
    let n = 40_000u32;
    let mut f = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 101] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    for spi in 1..=n {
        let p = esp(spi);
        for v in [
            1_700_000_000 + spi / 1000,
            spi % 1000,
            p.len() as u32,
            p.len() as u32,
        ] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(&p);
    }
    let path =
        std::env::temp_dir().join(format!("ike-sniff-spi-flood-{}.pcap", std::process::id()));
    std::fs::write(&path, f).unwrap();
    for threads in ["1", "2"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
            .args(["-q", "--threads", threads, "-r"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let stderr = String::from_utf8(out.stderr).unwrap();
        let warnings: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("analysis degraded"))
            .collect();
        assert_eq!(warnings.len(), 1, "threads {threads}: {stderr}");
        assert!(
            warnings[0].contains(
                "warning: analysis degraded: the ESP SA table reached its cap (32768 entries) \
                 and evicted "
            ),
            "{}",
            warnings[0]
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let evicted = n as usize - 32768;
        // `-q` says the tables filled in one line; the per-table counts are `-v`'s.
        assert!(
            stdout.contains(&format!("tables full: {evicted} tracked entries")),
            "threads {threads}: {stdout}"
        );
        assert!(
            warnings[0].contains(&format!("evicted {evicted} least")),
            "{}",
            warnings[0]
        );
    }
    std::fs::remove_file(&path).unwrap();
}

/// Fragment sets that never complete fill the reassemblers' tables; each says so once, with its
/// caps, in both thread modes.
#[test]
fn a_fragment_flood_warns_once_per_reassembly_table() {
    let path =
        std::env::temp_dir().join(format!("ike-sniff-frag-flood-{}.pcap", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_ike-sniff-corpus"))
        .args([
            "--kind",
            "fragment-flood",
            "--size",
            "16MiB",
            "--seed",
            "1",
            "-o",
        ])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    for threads in ["1", "2"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
            .args(["-q", "--threads", threads, "-r"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let stderr = String::from_utf8(out.stderr).unwrap();
        for table in [
            "the IP fragment set table reached its cap (8192 sets or 32 MiB)",
            "the IKE fragment set table reached its cap (1024 sets or 8 MiB)",
        ] {
            let n = stderr.lines().filter(|l| l.contains(table)).count();
            assert_eq!(n, 1, "threads {threads}: {table}: {stderr}");
        }
    }
    std::fs::remove_file(&path).unwrap();
    let _ = std::fs::remove_file(path.with_extension("pcap.truth.json"));
}
