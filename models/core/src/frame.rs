//! Camera frames and the newest-frame slot between a capture thread and its readers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::clock::Timestamp;

/// One decoded frame: RGBA8, row-major, `width × height × 4` bytes. Shared (`Arc`) between the UI, the recorder and
/// the policy without copying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The source's name.
    pub source: Arc<str>,
    /// Counts every frame the source delivered since it was started (gaps mean frames the source lost).
    pub sequence: u64,
    /// When the frame was captured, on the shared clock.
    pub captured: Timestamp,
    pub width: u32,
    pub height: u32,
    /// What the device delivered before decoding (e.g. "MJPEG", "YUYV", "RGB (synthetic)").
    pub source_format: Arc<str>,
    pub rgba: Arc<Vec<u8>>,
    /// Time the capture thread spent decoding this frame to RGBA (µs).
    pub decode_us: u32,
    /// The frame already converted for the screen, on the capture thread, by the function the display installed
    /// (`None` when none is installed, or for frames the display asked to skip).
    pub display: Option<DisplayImage>,
}

/// A frame converted for display (e.g. an egui `ColorImage`), opaque to everything but the display that made it.
#[derive(Clone)]
pub struct DisplayImage(pub Arc<dyn std::any::Any + Send + Sync>);

impl std::fmt::Debug for DisplayImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DisplayImage")
    }
}

impl PartialEq for DisplayImage {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for DisplayImage {}

impl Frame {
    /// The frame as RGB (3 bytes a pixel), e.g. for a policy's observation.
    #[must_use]
    pub fn to_rgb(&self) -> Vec<u8> {
        self.rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect()
    }
}

/// Counters of one source, readable from any thread.
#[derive(Debug, Default)]
pub struct SlotCounters {
    /// Frames put into the slot.
    pub published: AtomicU64,
    /// Frames replaced in the slot before anyone took them (the reader was too slow).
    pub dropped: AtomicU64,
    /// Frames the source itself skipped (gaps in its sequence numbers).
    pub source_gaps: AtomicU64,
}

/// Holds the newest frame of one source. Publishing never blocks on the reader: an untaken frame is replaced, and
/// counted as dropped.
#[derive(Debug, Default)]
pub struct FrameSlot {
    newest: Mutex<Option<Arc<Frame>>>,
    /// The newest frame, also kept after it was taken (for the recorder or the policy).
    last: Mutex<Option<Arc<Frame>>>,
    pub counters: SlotCounters,
}

impl FrameSlot {
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn publish(&self, frame: Arc<Frame>) {
        if let Ok(mut last) = self.last.lock() {
            if let Some(previous) = last.as_ref()
                && frame.sequence > previous.sequence + 1
            {
                self.counters.source_gaps.fetch_add(frame.sequence - previous.sequence - 1, Ordering::Relaxed);
            }
            *last = Some(frame.clone());
        }
        if let Ok(mut newest) = self.newest.lock()
            && newest.replace(frame).is_some()
        {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.counters.published.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes the newest frame not taken yet.
    #[must_use]
    pub fn take(&self) -> Option<Arc<Frame>> {
        self.newest.lock().ok().and_then(|mut newest| newest.take())
    }

    /// The newest frame, taken or not (does not count as taking it).
    #[must_use]
    pub fn peek(&self) -> Option<Arc<Frame>> {
        self.last.lock().ok().and_then(|last| last.clone())
    }

    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    #[must_use]
    pub fn published(&self) -> u64 {
        self.counters.published.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(sequence: u64) -> Arc<Frame> {
        Arc::new(Frame {
            source: "test".into(),
            sequence,
            captured: Timestamp::now(),
            width: 1,
            height: 1,
            source_format: "RGB".into(),
            rgba: Arc::new(vec![1, 2, 3, 255]),
            decode_us: 0,
            display: None,
        })
    }

    #[test]
    fn the_slot_keeps_the_newest_and_counts_what_it_replaced() {
        let slot = FrameSlot::new();
        slot.publish(frame(0));
        assert_eq!(slot.take().unwrap().sequence, 0);
        assert!(slot.take().is_none());
        slot.publish(frame(1));
        slot.publish(frame(2));
        slot.publish(frame(5));
        assert_eq!(slot.take().unwrap().sequence, 5);
        assert_eq!(slot.dropped(), 2);
        assert_eq!(slot.counters.source_gaps.load(Ordering::Relaxed), 2);
        assert_eq!(slot.peek().unwrap().sequence, 5);
        assert_eq!(slot.published(), 4);
        assert_eq!(frame(0).to_rgb(), vec![1, 2, 3]);
    }
}
