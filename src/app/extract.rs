//! `-w OUT` with `-r`: the packets a run analysed (every IPsec-related packet that passed the
//! filters) written to a classic pcap file, with their original timestamps and link type, so a
//! support engineer can attach a small capture of one failing tunnel to a ticket.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::capture::RawPacket;
use crate::capture::live::{LiveConfig, PcapWriter};

pub struct Extract {
    path: PathBuf,
    writer: Option<(PcapWriter, u32)>,
    /// The link type of the first record read: the file's header when nothing is written.
    first_linktype: Option<u32>,
    foreign_reported: bool,
    pub written: u64,
}

/// Link type of an empty extract from an empty capture (nothing says otherwise).
const LINKTYPE_ETHERNET: u32 = 1;

impl Extract {
    /// Creates the file at once, so a path that cannot be written fails before any reading.
    pub fn create(path: &Path) -> io::Result<Self> {
        File::create(path)
            .map_err(|e| io::Error::new(e.kind(), format!("-w {}: {e}", path.display())))?;
        Ok(Extract {
            path: path.to_path_buf(),
            writer: None,
            first_linktype: None,
            foreign_reported: false,
            written: 0,
        })
    }

    /// Every record read, written or not (the header of an extract with no packet).
    pub fn seen(&mut self, raw: &RawPacket<'_>) {
        self.first_linktype.get_or_insert(raw.linktype);
    }

    pub fn write(&mut self, raw: &RawPacket<'_>) -> io::Result<()> {
        let (writer, linktype) = match &mut self.writer {
            Some(w) => w,
            None => self.writer.insert((
                PcapWriter::create(&self.path, raw.linktype, LiveConfig::DEFAULT_SNAPLEN, None)?,
                raw.linktype,
            )),
        };
        if raw.linktype != *linktype {
            // A classic pcap file has one link type; pcapng captures can mix them.
            if !self.foreign_reported {
                self.foreign_reported = true;
                eprintln!(
                    "-w {}: frame {}: link type {} differs from the file's {}; packets of other link types are left out",
                    self.path.display(),
                    raw.frame,
                    raw.linktype,
                    linktype
                );
            }
            return Ok(());
        }
        writer.write(raw)?;
        self.written += 1;
        Ok(())
    }

    /// Flushes; with no packet written, leaves a valid empty capture of the input's link type.
    pub fn finish(self) -> io::Result<()> {
        match self.writer {
            Some((mut w, _)) => w.flush(),
            None => PcapWriter::create(
                &self.path,
                self.first_linktype.unwrap_or(LINKTYPE_ETHERNET),
                LiveConfig::DEFAULT_SNAPLEN,
                None,
            )?
            .flush(),
        }
    }
}
