//! The on-disk episode log: an append-only sequence of checksummed records. Nothing is ever rewritten in place, so
//! a crash (kill -9, power loss) can only leave a *torn tail* — a last record cut short or half written — which the
//! reader detects by its length or checksum and trims, keeping everything before it.
//!
//! File: the 16-byte header `KINEDESK-EPLOG1\n`, then records:
//!
//! ```text
//! magic  u32 LE  0x4B44_5231 ("KDR1")
//! kind   u8      RecordKind
//! length u32 LE  payload length in bytes (at most 64 MiB)
//! time   u64 LE  nanoseconds on the shared clock
//! payload        `length` bytes
//! crc    u32 LE  CRC-32 (IEEE) of kind, length, time and payload
//! ```

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use kinedesk_core::Timestamp;

pub const FILE_HEADER: &[u8; 16] = b"KINEDESK-EPLOG1\n";
const MAGIC: u32 = 0x4B44_5231;
const MAX_PAYLOAD: u32 = 64 << 20;
/// Bytes of a record besides its payload.
pub const RECORD_OVERHEAD: usize = 4 + 1 + 4 + 8 + 4;

/// What a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum RecordKind {
    /// JSON: the episode's metadata (task, robot, cameras, fps), written first.
    Meta = 1,
    /// Joint state: u16 joint count, then positions and velocities (f64 LE), then the gripper opening (f64).
    JointState = 2,
    /// A camera frame: u16 camera index, u32 width, u32 height, u64 frame sequence, then JPEG bytes.
    CameraFrame = 3,
    /// JSON: an event on the timeline (instruction, reasoning, plan, approval, send, stop, teleop command, …).
    Event = 4,
    /// Action: u16 count, then f64 LE values (what was commanded at this time).
    Action = 5,
    /// JSON: the episode ended (length, outcome).
    End = 6,
}

impl RecordKind {
    #[must_use]
    pub fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => Self::Meta,
            2 => Self::JointState,
            3 => Self::CameraFrame,
            4 => Self::Event,
            5 => Self::Action,
            6 => Self::End,
            _ => return None,
        })
    }
}

/// One record read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub kind: RecordKind,
    pub time: Timestamp,
    pub payload: Vec<u8>,
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), computed by `crc32fast` (carry-less multiplication where
/// the CPU has it: the checksum was a quarter of a rosbag import's time with a byte-at-a-time table).
#[derive(Clone, Debug)]
pub struct Crc32(crc32fast::Hasher);

impl Crc32 {
    #[must_use]
    pub fn new() -> Self {
        Self(crc32fast::Hasher::new())
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    #[must_use]
    pub fn finish(self) -> u32 {
        self.0.finalize()
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

fn record_crc(kind: u8, length: u32, time: u64, payload: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(&[kind]);
    crc.update(&length.to_le_bytes());
    crc.update(&time.to_le_bytes());
    crc.update(payload);
    crc.finish()
}

/// Appends records to an episode log.
pub struct LogWriter {
    file: BufWriter<File>,
    bytes: u64,
}

impl LogWriter {
    /// Creates a new log (fails if the file exists: logs are never overwritten).
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        let mut writer = Self { file: BufWriter::with_capacity(1 << 20, file), bytes: 0 };
        writer.file.write_all(FILE_HEADER)?;
        writer.bytes = FILE_HEADER.len() as u64;
        Ok(writer)
    }

    /// Reopens a log to append after its last valid record (a torn tail is cut off first).
    pub fn append(path: &Path) -> std::io::Result<Self> {
        let scan = scan_log(path)?;
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(scan.valid_bytes)?;
        let mut file = BufWriter::with_capacity(1 << 20, file);
        file.seek(SeekFrom::Start(scan.valid_bytes))?;
        Ok(Self { file, bytes: scan.valid_bytes })
    }

    pub fn write(&mut self, kind: RecordKind, time: Timestamp, payload: &[u8]) -> std::io::Result<()> {
        let length = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l <= MAX_PAYLOAD)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "record payload over 64 MiB"))?;
        let nanos = time.as_nanos();
        let crc = record_crc(kind as u8, length, nanos, payload);
        self.file.write_all(&MAGIC.to_le_bytes())?;
        self.file.write_all(&[kind as u8])?;
        self.file.write_all(&length.to_le_bytes())?;
        self.file.write_all(&nanos.to_le_bytes())?;
        self.file.write_all(payload)?;
        self.file.write_all(&crc.to_le_bytes())?;
        self.bytes += (RECORD_OVERHEAD + payload.len()) as u64;
        Ok(())
    }

    /// Pushes buffered records to the disk and waits until the data is durable.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()
    }

    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// A stretch of a log that held no valid record (a flipped byte, a bad write), skipped to the next valid one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub at: u64,
    pub bytes: u64,
    pub reason: String,
}

/// What reading a log found.
#[derive(Debug, Default)]
pub struct LogScan {
    pub records: Vec<Record>,
    /// Bytes up to the end of the last valid record.
    pub valid_bytes: u64,
    /// Why reading stopped before the end of the file, if it did (the torn tail).
    pub torn_tail: Option<String>,
    /// Damaged stretches inside the log that were skipped; every valid record after them is kept.
    pub skipped: Vec<Skipped>,
    pub file_bytes: u64,
}

/// The largest log KineDesk reads (a 10-minute, 3-camera episode is 1.4 GB).
pub const MAX_LOG_BYTES: u64 = 64 << 30;

/// Parses the record at the start of `rest`: the record and its total size, or why it is not one.
fn parse_record(rest: &[u8]) -> Result<(Record, usize), String> {
    if rest.len() < RECORD_OVERHEAD {
        return Err(format!("{} bytes of a cut-off record", rest.len()));
    }
    let u32_at = |o: usize| u32::from_le_bytes([rest[o], rest[o + 1], rest[o + 2], rest[o + 3]]);
    if u32_at(0) != MAGIC {
        return Err("no record marker".into());
    }
    let (kind, length) = (rest[4], u32_at(5));
    if length > MAX_PAYLOAD {
        return Err(format!("impossible record length {length}"));
    }
    let total = RECORD_OVERHEAD + length as usize;
    if rest.len() < total {
        return Err(format!("record cut short ({} of {total} bytes)", rest.len()));
    }
    let mut time = [0u8; 8];
    time.copy_from_slice(&rest[9..17]);
    let time = u64::from_le_bytes(time);
    let payload = &rest[17..17 + length as usize];
    if u32_at(17 + length as usize) != record_crc(kind, length, time, payload) {
        return Err("checksum mismatch".into());
    }
    let kind = RecordKind::from_u8(kind).ok_or_else(|| format!("unknown record kind {kind}"))?;
    Ok((Record { kind, time: Timestamp::from_nanos(time), payload: payload.to_vec() }, total))
}

/// Reads a log's records one at a time from a file, holding at most one record (and a read buffer) in memory. A
/// damaged stretch is skipped: reading resumes at the next record that is whole and passes its checksum, and the
/// stretch is reported. Damage that runs to the end of the file is the torn tail.
pub struct RecordStream {
    file: std::io::BufReader<File>,
    at: u64,
    file_bytes: u64,
    pub valid_bytes: u64,
    pub torn_tail: Option<String>,
    pub skipped: Vec<Skipped>,
    /// Where in the file the record [`RecordStream::next_record`] returned last starts.
    pub last_at: u64,
}

impl RecordStream {
    /// Opens `path` (a regular file of at most [`MAX_LOG_BYTES`]) and checks its header.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        if !metadata.is_file() {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
        }
        if metadata.len() > MAX_LOG_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} bytes is larger than an episode log may be ({MAX_LOG_BYTES})", metadata.len()),
            ));
        }
        let mut file = File::open(path)?;
        let mut stream = Self {
            file: std::io::BufReader::with_capacity(1 << 20, File::open(path)?),
            at: FILE_HEADER.len() as u64,
            file_bytes: metadata.len(),
            valid_bytes: FILE_HEADER.len() as u64,
            torn_tail: None,
            skipped: Vec::new(),
            last_at: 0,
        };
        let mut header = [0u8; 16];
        if metadata.len() < FILE_HEADER.len() as u64 || file.read_exact(&mut header).is_err() || &header != FILE_HEADER
        {
            stream.torn_tail = Some("not a KineDesk episode log (bad header)".into());
            stream.at = stream.file_bytes;
            stream.valid_bytes = 0;
        }
        stream.file.seek(SeekFrom::Start(stream.at))?;
        Ok(stream)
    }

    /// Reads the record at `at` without moving on.
    fn record_at(&mut self, at: u64) -> std::io::Result<Result<(Record, usize), String>> {
        self.file.seek(SeekFrom::Start(at))?;
        let left = self.file_bytes - at;
        let mut head = vec![0u8; (RECORD_OVERHEAD as u64).min(left) as usize];
        self.file.read_exact(&mut head)?;
        if head.len() < 17 {
            return Ok(parse_record(&head));
        }
        let length = u32::from_le_bytes([head[5], head[6], head[7], head[8]]);
        if u32::from_le_bytes([head[0], head[1], head[2], head[3]]) != MAGIC || length > MAX_PAYLOAD {
            return Ok(parse_record(&head));
        }
        let total = (RECORD_OVERHEAD as u64 + u64::from(length)).min(left) as usize;
        let mut whole = head;
        whole.resize(total, 0);
        self.file.read_exact(&mut whole[RECORD_OVERHEAD.min(total)..])?;
        Ok(parse_record(&whole))
    }

    /// The next offset after `from` where a valid record starts, if any.
    fn resynchronise(&mut self, from: u64) -> std::io::Result<Option<u64>> {
        let magic = MAGIC.to_le_bytes();
        let mut window_start = from;
        let mut window = vec![0u8; 1 << 20];
        while window_start + 4 <= self.file_bytes {
            self.file.seek(SeekFrom::Start(window_start))?;
            let length = ((self.file_bytes - window_start) as usize).min(window.len());
            self.file.read_exact(&mut window[..length])?;
            let candidates: Vec<u64> = window[..length]
                .windows(4)
                .enumerate()
                .filter(|(_, w)| *w == magic)
                .map(|(i, _)| window_start + i as u64)
                .collect();
            for candidate in candidates {
                if self.record_at(candidate)?.is_ok() {
                    return Ok(Some(candidate));
                }
            }
            if length < 4 {
                break;
            }
            window_start += (length - 3) as u64;
        }
        Ok(None)
    }

    /// The next valid record, skipping damaged stretches; `None` at the end (or the torn tail).
    pub fn next_record(&mut self) -> std::io::Result<Option<Record>> {
        while self.at < self.file_bytes {
            match self.record_at(self.at)? {
                Ok((record, total)) => {
                    self.last_at = self.at;
                    self.at += total as u64;
                    self.valid_bytes = self.at;
                    return Ok(Some(record));
                }
                Err(reason) => match self.resynchronise(self.at + 1)? {
                    Some(next) => {
                        self.skipped.push(Skipped {
                            at: self.at,
                            bytes: next - self.at,
                            reason: format!("{reason} at byte {}", self.at),
                        });
                        self.at = next;
                    }
                    None => {
                        self.torn_tail = Some(format!("{reason} at byte {}", self.at));
                        self.at = self.file_bytes;
                    }
                },
            }
        }
        Ok(None)
    }
}

/// Where a record's payload starts, from where the record starts (marker, kind, length and time come first).
pub const PAYLOAD_OFFSET: u64 = 17;

/// Reads every valid record; a damaged stretch is skipped (and reported) and reading goes on at the next valid
/// record; damage up to the end of the file is the torn tail.
pub fn scan_log(path: &Path) -> std::io::Result<LogScan> {
    let mut stream = RecordStream::open(path)?;
    let mut records = Vec::new();
    while let Some(record) = stream.next_record()? {
        records.push(record);
    }
    Ok(LogScan {
        records,
        valid_bytes: stream.valid_bytes,
        torn_tail: stream.torn_tail,
        skipped: stream.skipped,
        file_bytes: stream.file_bytes,
    })
}

/// [`scan_log`] on bytes in memory.
#[must_use]
pub fn scan_bytes(data: &[u8]) -> LogScan {
    let mut scan = LogScan { file_bytes: data.len() as u64, ..LogScan::default() };
    if data.len() < FILE_HEADER.len() || &data[..FILE_HEADER.len()] != FILE_HEADER {
        scan.torn_tail = Some("not a KineDesk episode log (bad header)".into());
        return scan;
    }
    let mut at = FILE_HEADER.len();
    scan.valid_bytes = at as u64;
    let magic = MAGIC.to_le_bytes();
    while at < data.len() {
        match parse_record(&data[at..]) {
            Ok((record, total)) => {
                scan.records.push(record);
                at += total;
                scan.valid_bytes = at as u64;
            }
            Err(reason) => {
                let next = (at + 1..data.len().saturating_sub(3))
                    .find(|p| data[*p..*p + 4] == magic && parse_record(&data[*p..]).is_ok());
                match next {
                    Some(next) => {
                        scan.skipped.push(Skipped {
                            at: at as u64,
                            bytes: (next - at) as u64,
                            reason: format!("{reason} at byte {at}"),
                        });
                        at = next;
                    }
                    None => {
                        scan.torn_tail = Some(format!("{reason} at byte {at}"));
                        break;
                    }
                }
            }
        }
    }
    scan
}

/// The first and the last record of a log, read without reading what lies between: the first record follows the
/// header; the last is found by looking back from the end of the file (within 1 MiB) for a valid record that ends
/// exactly there. `None` for either when there is none (a log cut short after a crash has no valid last record).
pub fn first_and_last_record(path: &Path) -> std::io::Result<(Option<Record>, Option<Record>)> {
    let mut stream = RecordStream::open(path)?;
    if stream.torn_tail.is_some() {
        return Ok((None, None));
    }
    let first = match stream.record_at(FILE_HEADER.len() as u64)? {
        Ok((record, _)) => Some(record),
        Err(_) => None,
    };
    let file_bytes = stream.file_bytes;
    let window = file_bytes.min(1 << 20);
    let start = file_bytes - window;
    stream.file.seek(SeekFrom::Start(start))?;
    let mut tail = vec![0u8; window as usize];
    stream.file.read_exact(&mut tail)?;
    let magic = MAGIC.to_le_bytes();
    let last = (0..tail.len().saturating_sub(RECORD_OVERHEAD - 1))
        .rev()
        .filter(|offset| tail[*offset..*offset + 4] == magic && start + *offset as u64 >= FILE_HEADER.len() as u64)
        .find_map(|offset| match parse_record(&tail[offset..]) {
            Ok((record, total)) if offset + total == tail.len() => Some(record),
            _ => None,
        });
    Ok((first, last))
}

/// Per-kind record counts and the time span of a log, read in one streaming pass (memory does not grow with the
/// log). Used for logs without a summary in their end record (after a crash).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogCounts {
    pub records: u64,
    /// Camera-frame records per camera index.
    pub frames_per_camera: Vec<u64>,
    pub joint_states: u64,
    pub first_ns: Option<u64>,
    pub last_ns: Option<u64>,
    pub valid_bytes: u64,
    pub torn_tail: Option<String>,
    pub skipped: Vec<Skipped>,
}

/// Streams through a log counting records (each is read, checked and dropped).
pub fn count_records(path: &Path) -> std::io::Result<LogCounts> {
    let mut stream = RecordStream::open(path)?;
    let mut counts = LogCounts::default();
    while let Some(record) = stream.next_record()? {
        counts.records += 1;
        match record.kind {
            RecordKind::CameraFrame if record.payload.len() >= 2 => {
                let camera = usize::from(u16::from_le_bytes([record.payload[0], record.payload[1]]));
                if counts.frames_per_camera.len() <= camera {
                    counts.frames_per_camera.resize(camera + 1, 0);
                }
                counts.frames_per_camera[camera] += 1;
            }
            RecordKind::JointState => counts.joint_states += 1,
            _ => {}
        }
        if !matches!(record.kind, RecordKind::Meta | RecordKind::End) {
            let time = record.time.as_nanos();
            counts.first_ns = Some(counts.first_ns.map_or(time, |t| t.min(time)));
            counts.last_ns = Some(counts.last_ns.map_or(time, |t| t.max(time)));
        }
    }
    counts.valid_bytes = stream.valid_bytes;
    counts.torn_tail = stream.torn_tail;
    counts.skipped = stream.skipped;
    Ok(counts)
}

/// Cuts a torn tail off a log so it can be appended to or exported; returns how many bytes were removed.
pub fn trim_torn_tail(path: &Path) -> std::io::Result<u64> {
    let scan = scan_log(path)?;
    if scan.valid_bytes < scan.file_bytes {
        OpenOptions::new().write(true).open(path)?.set_len(scan.valid_bytes)?;
    }
    Ok(scan.file_bytes - scan.valid_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        let mut crc = Crc32::new();
        crc.update(b"123456789");
        assert_eq!(crc.finish(), 0xCBF4_3926);
    }

    #[test]
    fn every_cut_of_a_log_keeps_the_whole_records_before_it() {
        let dir = std::env::temp_dir().join(format!("kinedesk-eplog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cut.kdlog");
        let _ = std::fs::remove_file(&path);
        let mut writer = LogWriter::create(&path).unwrap();
        let mut ends = vec![FILE_HEADER.len() as u64];
        for i in 0..20u8 {
            writer.write(RecordKind::Event, Timestamp::from_nanos(u64::from(i)), &vec![i; usize::from(i) * 7]).unwrap();
            ends.push(writer.bytes());
        }
        writer.sync().unwrap();
        let data = std::fs::read(&path).unwrap();
        for cut in FILE_HEADER.len()..=data.len() {
            let scan = scan_bytes(&data[..cut]);
            let whole = ends.iter().filter(|end| **end <= cut as u64).count() - 1;
            assert_eq!(scan.records.len(), whole, "cut at {cut}");
            assert_eq!(scan.torn_tail.is_some(), !ends.contains(&(cut as u64)), "cut at {cut}");
        }
        // A flipped byte in the middle loses that record only: reading resumes at the next valid one, and the
        // damaged stretch is reported (in memory and streamed from the file alike).
        let mut corrupt = data.clone();
        corrupt[ends[5] as usize + 20] ^= 0xFF;
        let scan = scan_bytes(&corrupt);
        assert_eq!((scan.records.len(), scan.torn_tail.as_deref()), (19, None));
        assert_eq!(scan.skipped.len(), 1);
        assert!(scan.skipped[0].reason.contains("checksum mismatch"), "{:?}", scan.skipped);
        assert_eq!(scan.skipped[0].bytes, ends[6] - ends[5]);
        let damaged = dir.join("damaged.kdlog");
        std::fs::write(&damaged, &corrupt).unwrap();
        let streamed = scan_log(&damaged).unwrap();
        assert_eq!((streamed.records.len(), streamed.skipped.len()), (19, 1));
        assert_eq!(streamed.records, scan.records);
        assert_eq!(count_records(&damaged).unwrap().records, 19);
        // Trimming a torn tail, then appending, gives a clean log.
        std::fs::write(&path, &data[..data.len() - 3]).unwrap();
        assert_eq!(trim_torn_tail(&path).unwrap(), ends[20] - ends[19] - 3);
        let mut again = LogWriter::append(&path).unwrap();
        again.write(RecordKind::End, Timestamp::from_nanos(99), b"{}").unwrap();
        again.sync().unwrap();
        let scan = scan_log(&path).unwrap();
        assert_eq!((scan.records.len(), scan.torn_tail), (20, None));
        assert!(LogWriter::create(&path).is_err(), "logs are never overwritten");
        // Not a regular file (a link to /dev/zero, say): refused at once, not read forever.
        assert!(scan_log(Path::new("/dev/zero")).is_err());
        // The first and last records are found without reading the middle; counting streams through.
        let (first, last) = first_and_last_record(&path).unwrap();
        assert_eq!(first.unwrap().time, Timestamp::from_nanos(0));
        assert_eq!(last.unwrap().kind, RecordKind::End);
        let counts = count_records(&path).unwrap();
        assert_eq!((counts.records, counts.torn_tail), (20, None));
        std::fs::write(&path, &data[..data.len() - 3]).unwrap();
        assert!(first_and_last_record(&path).unwrap().1.is_none(), "a torn log has no valid last record");
        assert!(count_records(&path).unwrap().torn_tail.is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
