//! Capture threads with the embedded sources: several feeds at once, one of them unplugged and replugged, image
//! folder playback, and the honest answer of the device backend on a machine without a camera.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use kinedesk_cameras::device::{DeviceRequest, DeviceSource, list_devices};
use kinedesk_cameras::synthetic::{FolderSource, TestPattern, Unplugging};
use kinedesk_cameras::{CameraStatus, FrameSource, spawn_capture};

#[test]
fn an_unplugged_feed_recovers_on_its_own_and_the_others_never_notice() {
    let steady: Vec<_> = (0..2)
        .map(|i| {
            let name = format!("steady{i}");
            let make_name = name.clone();
            spawn_capture(&name, Box::new(move || Box::new(TestPattern::new(make_name, 640, 480, 30.0))), None).unwrap()
        })
        .collect();
    let flaky = spawn_capture(
        "flaky",
        Box::new(|| {
            Box::new(Unplugging::new(TestPattern::new("flaky", 320, 240, 30.0), 10, Duration::from_millis(300)))
                as Box<dyn FrameSource>
        }),
        None,
    )
    .unwrap();
    let started = Instant::now();
    let mut taken = [0u64; 2];
    let mut saw_lost = false;
    let mut frames_after_loss = 0;
    while started.elapsed() < Duration::from_secs(2) {
        for (count, feed) in taken.iter_mut().zip(&steady) {
            if feed.slot.take().is_some() {
                *count += 1;
            }
        }
        match flaky.status() {
            CameraStatus::Lost { reason } => {
                assert!(reason.contains("unplugged"), "{reason}");
                saw_lost = true;
            }
            CameraStatus::Streaming(_) if saw_lost && flaky.slot.take().is_some() => frames_after_loss += 1,
            _ => {
                let _ = flaky.slot.take();
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(saw_lost, "the flaky feed should have been lost");
    assert!(flaky.reopened() >= 1 && frames_after_loss > 0, "reopened {} frames {frames_after_loss}", flaky.reopened());
    for (count, feed) in taken.iter().zip(&steady) {
        assert!(*count >= 50, "{}: {count} frames in 2 s", feed.name);
        // The sources delivered every frame in order; a frame replaced before this loop took it is the test's
        // reader descheduled for a frame period (the suite runs tests side by side on 2 cores), allowed once.
        assert_eq!(feed.slot.counters.source_gaps.load(std::sync::atomic::Ordering::Relaxed), 0, "{}", feed.name);
        assert!(feed.slot.dropped() <= 1, "{} dropped {} frames", feed.name, feed.slot.dropped());
        assert!(matches!(feed.status(), CameraStatus::Streaming(_)));
    }
}

#[test]
fn a_folder_of_images_plays_in_order_and_an_empty_one_says_why() {
    let dir = std::env::temp_dir().join(format!("kinedesk-folder-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, shade) in [10u8, 120, 240].iter().enumerate() {
        image::RgbImage::from_pixel(32, 24, image::Rgb([*shade, 0, 0])).save(dir.join(format!("{i:03}.png"))).unwrap();
    }
    let mut source = FolderSource::new("folder", dir.clone(), 200.0);
    let info = source.open().unwrap();
    assert_eq!((info.width, info.height), (32, 24));
    let reds: Vec<u8> = (0..4).map(|_| source.next_frame().unwrap().rgba[0]).collect();
    assert_eq!(reds, [10, 120, 240, 10]);
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let error = FolderSource::new("empty", empty, 30.0).open().unwrap_err();
    assert!(error.to_string().contains("no PNG or JPEG images"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_device_backend_streams_a_real_camera_or_says_clearly_why_not() {
    let devices = list_devices().unwrap_or_default();
    // A device that is not there, whatever this machine has: opening explains itself, never a panic.
    let absent = devices.len() as u32 + 50;
    let request = DeviceRequest { index: absent, ..DeviceRequest::default() };
    let mut source = DeviceSource::new("absent", request.clone(), Vec::new());
    let error = source.open().unwrap_err();
    assert!(error.to_string().contains("cannot open the camera"), "{error}");
    // The capture thread keeps trying and reports the reason.
    let handle =
        spawn_capture("absent", Box::new(move || Box::new(DeviceSource::new("absent", request, Vec::new()))), None)
            .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !matches!(handle.status(), CameraStatus::Lost { .. }) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(matches!(handle.status(), CameraStatus::Lost { .. }), "{:?}", handle.status());
    // With a camera attached, the first one streams decoded frames through the same path.
    if let Some(first) = devices.first() {
        let request = DeviceRequest { index: first.index, ..DeviceRequest::default() };
        let camera =
            spawn_capture("cam", Box::new(move || Box::new(DeviceSource::new("cam", request, Vec::new()))), None)
                .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut frame = None;
        while frame.is_none() && Instant::now() < deadline {
            frame = camera.slot.take();
            std::thread::sleep(Duration::from_millis(10));
        }
        let frame = frame.unwrap_or_else(|| panic!("{} delivered no frame: {:?}", first.name, camera.status()));
        assert!(frame.width > 0 && frame.rgba.len() == (frame.width * frame.height * 4) as usize);
        assert!(matches!(camera.status(), CameraStatus::Streaming(_)));
    }
}
