//! `ros2:/TOPIC` camera feeds: `sensor_msgs/Image` (rgb8, bgr8, mono8, yuv422 — UYVY — and yuv422_yuy2) and
//! `sensor_msgs/CompressedImage` (jpeg, png), through the same capture thread, slot, badges and recorder as every
//! other source. Which of the two the topic carries is read from discovery. Capture timestamps are the message
//! header's stamp moved onto the desk clock ([`crate::link::desk_time`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use kinedesk_cameras::decode::{gray_to_rgba, rgb_to_rgba, yuyv_to_rgba};
use kinedesk_cameras::{CameraError, CapturedImage, FrameSource, SourceInfo};
use kinedesk_core::clock::Timestamp;

use crate::link::desk_time;
use crate::msg::{CompressedImageMsg, Header, ImageMsg, RosMessage};
use crate::node::{Qos, Ros2Node, Subscription};

/// How long the feed waits for a publisher of its topic to be discovered when it opens.
pub const DISCOVERY_WAIT: Duration = Duration::from_secs(3);
/// No image for this long: the feed reports the camera lost and reopens.
pub const SILENCE: Duration = Duration::from_secs(2);

enum Reader {
    Raw(Subscription<ImageMsg>),
    Compressed(Subscription<CompressedImageMsg>),
}

/// A camera feed from a ROS 2 image topic.
pub struct Ros2Camera {
    name: String,
    topic: String,
    fps: f64,
    domain: Option<u16>,
    /// Declared before its participant: fields drop in order, the endpoint first.
    reader: Option<Reader>,
    node: Option<Ros2Node>,
}

impl Ros2Camera {
    /// `fps` is the rate the recording's clock is configured for (the topic's own rate shows on the badge).
    #[must_use]
    pub fn new(name: String, topic: String, fps: f64, domain: Option<u16>) -> Self {
        Self { name, topic, fps, domain, reader: None, node: None }
    }
}

/// Decodes an `Image` to RGBA (rows may be padded: `step` is honoured).
pub fn image_to_rgba(image: &ImageMsg) -> Result<Vec<u8>, CameraError> {
    let (width, height) = (image.width, image.height);
    let bytes_per_pixel = match image.encoding.as_str() {
        "rgb8" | "bgr8" => 3,
        "mono8" => 1,
        "yuv422" | "uyvy" | "yuv422_yuy2" | "yuyv" => 2,
        other => {
            return Err(CameraError::Decode(format!(
                "encoding {other:?} is not shown (rgb8, bgr8, mono8, yuv422 and yuv422_yuy2 are)"
            )));
        }
    };
    let row = width as usize * bytes_per_pixel;
    let step = image.step as usize;
    if step < row || image.data.len() < step * height as usize {
        return Err(CameraError::Decode(format!(
            "a {width}×{height} {} image with step {step} needs {} bytes; it has {}",
            image.encoding,
            step.max(row) * height as usize,
            image.data.len()
        )));
    }
    let packed: std::borrow::Cow<'_, [u8]> = if step == row {
        std::borrow::Cow::Borrowed(&image.data[..row * height as usize])
    } else {
        image.data.chunks(step).take(height as usize).flat_map(|r| &r[..row]).copied().collect::<Vec<u8>>().into()
    };
    match image.encoding.as_str() {
        "rgb8" => rgb_to_rgba(&packed, width, height, false),
        "bgr8" => rgb_to_rgba(&packed, width, height, true),
        "mono8" => gray_to_rgba(&packed, width, height),
        "yuv422_yuy2" | "yuyv" => yuyv_to_rgba(&packed, width, height),
        // ROS's yuv422 is UYVY (U Y0 V Y1): reorder to YUYV.
        _ => {
            let yuyv: Vec<u8> = packed.chunks_exact(4).flat_map(|p| [p[1], p[0], p[3], p[2]]).collect();
            yuyv_to_rgba(&yuyv, width, height)
        }
    }
}

/// Decodes a `CompressedImage` (JPEG or PNG, by its format string or, failing that, its bytes).
pub fn compressed_to_rgba(image: &CompressedImageMsg) -> Result<(u32, u32, Vec<u8>), CameraError> {
    let format = image.format.to_ascii_lowercase();
    let guessed = if format.contains("png") {
        Some(image::ImageFormat::Png)
    } else if format.contains("jpeg") || format.contains("jpg") {
        Some(image::ImageFormat::Jpeg)
    } else {
        image::guess_format(&image.data).ok()
    };
    let decoded = match guessed {
        Some(kind @ (image::ImageFormat::Png | image::ImageFormat::Jpeg)) => {
            image::load_from_memory_with_format(&image.data, kind)
        }
        _ => {
            return Err(CameraError::Decode(format!(
                "compressed format {:?} is not shown (jpeg and png are)",
                image.format
            )));
        }
    }
    .map_err(|e| CameraError::Decode(format!("bad {} image ({} bytes): {e}", image.format, image.data.len())))?;
    let rgba = decoded.to_rgba8();
    Ok((rgba.width(), rgba.height(), rgba.into_raw()))
}

fn captured_at(header: &Header, arrived: Timestamp) -> Timestamp {
    desk_time(header.stamp, arrived)
}

impl FrameSource for Ros2Camera {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn open(&mut self) -> Result<SourceInfo, CameraError> {
        let node = match self.domain {
            Some(domain) => Ros2Node::on_domain(domain),
            None => Ros2Node::new(),
        }
        .map_err(|e| CameraError::Open(e.to_string()))?;
        let deadline = Instant::now() + DISCOVERY_WAIT;
        let found = loop {
            let published: Vec<String> = node
                .discovered()
                .into_iter()
                .filter(|t| t.topic == self.topic && t.publishers > 0)
                .map(|t| t.r#type)
                .collect();
            if !published.is_empty() {
                break published;
            }
            if Instant::now() >= deadline {
                return Err(CameraError::NotFound(format!(
                    "nothing publishes {} on ROS 2 domain {} (see docs/ros2.md for discovery)",
                    self.topic,
                    node.domain()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let reader = if found.iter().any(|t| t == ImageMsg::ROS_TYPE) {
            Reader::Raw(
                node.subscribe(&self.topic, Qos::Sensor { depth: 2 }).map_err(|e| CameraError::Open(e.to_string()))?,
            )
        } else if found.iter().any(|t| t == CompressedImageMsg::ROS_TYPE) {
            Reader::Compressed(
                node.subscribe(&self.topic, Qos::Sensor { depth: 2 }).map_err(|e| CameraError::Open(e.to_string()))?,
            )
        } else {
            return Err(CameraError::Open(format!(
                "{} carries {} ({} or {} are shown)",
                self.topic,
                found.join(", "),
                ImageMsg::ROS_TYPE,
                CompressedImageMsg::ROS_TYPE
            )));
        };
        let kind = match reader {
            Reader::Raw(_) => "sensor_msgs/Image",
            Reader::Compressed(_) => "sensor_msgs/CompressedImage",
        };
        self.reader = Some(reader);
        self.node = Some(node);
        // The size is known from the first image; the badge shows it as frames come.
        Ok(SourceInfo {
            width: 0,
            height: 0,
            fps: self.fps,
            format: kind.to_owned(),
            description: format!("ROS 2 topic {} ({kind})", self.topic),
        })
    }

    fn next_frame(&mut self) -> Result<CapturedImage, CameraError> {
        let silent = || CameraError::Disconnected(format!("no image on {} for {} s", self.topic, SILENCE.as_secs()));
        let reader = self.reader.as_mut().ok_or_else(|| CameraError::Open("not open".into()))?;
        let error = |e: crate::node::Ros2Error| CameraError::Disconnected(e.to_string());
        match reader {
            Reader::Raw(subscription) => {
                let received = subscription.next(SILENCE).map_err(error)?.ok_or_else(silent)?;
                let arrived = Timestamp::now();
                let started = Instant::now();
                let image = received.message;
                let rgba = image_to_rgba(&image)?;
                Ok(CapturedImage {
                    captured: captured_at(&image.header, arrived),
                    width: image.width,
                    height: image.height,
                    rgba,
                    source_format: Arc::from(format!("ROS Image {}", image.encoding)),
                    decode_us: started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32,
                })
            }
            Reader::Compressed(subscription) => {
                let received = subscription.next(SILENCE).map_err(error)?.ok_or_else(silent)?;
                let arrived = Timestamp::now();
                let started = Instant::now();
                let image = received.message;
                let (width, height, rgba) = compressed_to_rgba(&image)?;
                Ok(CapturedImage {
                    captured: captured_at(&image.header, arrived),
                    width,
                    height,
                    rgba,
                    source_format: Arc::from(format!("ROS CompressedImage {}", image.format)),
                    decode_us: started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32,
                })
            }
        }
    }

    fn close(&mut self) {
        self.reader = None;
        self.node = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(encoding: &str, width: u32, height: u32, step: u32, data: Vec<u8>) -> ImageMsg {
        ImageMsg { header: Header::default(), height, width, encoding: encoding.into(), is_bigendian: 0, step, data }
    }

    #[test]
    fn each_encoding_decodes_and_padded_rows_are_honoured() {
        // 2×1 rgb8 with two bytes of row padding.
        let rgb = image("rgb8", 2, 1, 8, vec![10, 20, 30, 40, 50, 60, 0, 0]);
        assert_eq!(image_to_rgba(&rgb).unwrap(), vec![10, 20, 30, 255, 40, 50, 60, 255]);
        let bgr = image("bgr8", 1, 1, 3, vec![1, 2, 3]);
        assert_eq!(image_to_rgba(&bgr).unwrap(), vec![3, 2, 1, 255]);
        let mono = image("mono8", 2, 2, 2, vec![0, 255, 7, 9]);
        assert_eq!(image_to_rgba(&mono).unwrap()[8..12], [7, 7, 7, 255]);
        // UYVY grey (U = V = 128) of Y = 235 is white, Y = 16 black.
        let uyvy = image("yuv422", 2, 1, 4, vec![128, 235, 128, 16]);
        let rgba = image_to_rgba(&uyvy).unwrap();
        assert_eq!(&rgba[..3], &[255, 255, 255]);
        assert_eq!(&rgba[4..7], &[0, 0, 0]);
        let short = image("rgb8", 4, 4, 12, vec![0; 10]);
        assert!(image_to_rgba(&short).unwrap_err().to_string().contains("needs 48 bytes"));
        let unknown = image("bayer_rggb8", 2, 2, 2, vec![0; 4]);
        assert!(image_to_rgba(&unknown).unwrap_err().to_string().contains("bayer_rggb8"));
    }

    #[test]
    fn compressed_images_decode_by_format() {
        let mut png = Vec::new();
        image::RgbImage::from_pixel(3, 2, image::Rgb([9, 8, 7]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let message = CompressedImageMsg { header: Header::default(), format: "png".into(), data: png };
        let (w, h, rgba) = compressed_to_rgba(&message).unwrap();
        assert_eq!((w, h, &rgba[..4]), (3, 2, &[9, 8, 7, 255][..]));
        let broken = CompressedImageMsg { format: "rgb8; jpeg compressed bgr8".into(), data: vec![1, 2, 3], ..message };
        assert!(compressed_to_rgba(&broken).is_err());
    }
}
