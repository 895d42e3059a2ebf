//! Camera pixel formats → RGBA8, on the capture thread (never on the UI thread).

use super::capture::CameraError;

/// Packed YUYV 4:2:2 (Y0 U Y1 V) → RGBA, BT.601 limited range.
pub fn yuyv_to_rgba(data: &[u8], width: u32, height: u32) -> Result<Vec<u8>, CameraError> {
    let pixels = width as usize * height as usize;
    if !width.is_multiple_of(2) || data.len() < pixels * 2 {
        return Err(CameraError::Decode(format!(
            "a {width}×{height} YUYV frame needs {} bytes and an even width; got {}",
            pixels * 2,
            data.len()
        )));
    }
    let mut out = vec![0u8; pixels * 4];
    for (pair, rgba) in data[..pixels * 2].chunks_exact(4).zip(out.chunks_exact_mut(8)) {
        let (y0, u, y1, v) = (pair[0], pair[1], pair[2], pair[3]);
        rgba[..4].copy_from_slice(&yuv_to_rgba(y0, u, v));
        rgba[4..].copy_from_slice(&yuv_to_rgba(y1, u, v));
    }
    Ok(out)
}

/// NV12 (Y plane, then interleaved UV at half resolution) → RGBA.
pub fn nv12_to_rgba(data: &[u8], width: u32, height: u32) -> Result<Vec<u8>, CameraError> {
    let (w, h) = (width as usize, height as usize);
    if !w.is_multiple_of(2) || !h.is_multiple_of(2) || data.len() < w * h * 3 / 2 {
        return Err(CameraError::Decode(format!(
            "a {width}×{height} NV12 frame needs {} bytes and even sides; got {}",
            w * h * 3 / 2,
            data.len()
        )));
    }
    let (luma, chroma) = data.split_at(w * h);
    let mut out = vec![0u8; w * h * 4];
    for y in 0..h {
        for x in 0..w {
            let uv = (y / 2) * w + (x / 2) * 2;
            let i = (y * w + x) * 4;
            out[i..i + 4].copy_from_slice(&yuv_to_rgba(luma[y * w + x], chroma[uv], chroma[uv + 1]));
        }
    }
    Ok(out)
}

fn yuv_to_rgba(y: u8, u: u8, v: u8) -> [u8; 4] {
    let c = (i32::from(y) - 16).max(0) * 298;
    let d = i32::from(u) - 128;
    let e = i32::from(v) - 128;
    let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    [clamp(c + 409 * e), clamp(c - 100 * d - 208 * e), clamp(c + 516 * d), 255]
}

/// Packed RGB or BGR → RGBA.
pub fn rgb_to_rgba(data: &[u8], width: u32, height: u32, bgr: bool) -> Result<Vec<u8>, CameraError> {
    let pixels = width as usize * height as usize;
    if data.len() < pixels * 3 {
        return Err(CameraError::Decode(format!(
            "a {width}×{height} RGB frame needs {} bytes; got {}",
            pixels * 3,
            data.len()
        )));
    }
    Ok(data[..pixels * 3]
        .chunks_exact(3)
        .flat_map(|p| if bgr { [p[2], p[1], p[0], 255] } else { [p[0], p[1], p[2], 255] })
        .collect())
}

/// Grey → RGBA.
pub fn gray_to_rgba(data: &[u8], width: u32, height: u32) -> Result<Vec<u8>, CameraError> {
    let pixels = width as usize * height as usize;
    if data.len() < pixels {
        return Err(CameraError::Decode(format!(
            "a {width}×{height} grey frame needs {pixels} bytes; got {}",
            data.len()
        )));
    }
    Ok(data[..pixels].iter().flat_map(|g| [*g, *g, *g, 255]).collect())
}

/// A JPEG (one MJPEG frame) → RGBA, with its size.
pub fn mjpeg_to_rgba(data: &[u8]) -> Result<(u32, u32, Vec<u8>), CameraError> {
    let image = image::load_from_memory_with_format(data, image::ImageFormat::Jpeg)
        .map_err(|e| CameraError::Decode(format!("bad MJPEG frame ({} bytes): {e}", data.len())))?;
    let rgba = image.to_rgba8();
    Ok((rgba.width(), rgba.height(), rgba.into_raw()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_grey_and_colours_decode() {
        // Two pixels of mid grey (Y = 126, U = V = 128), then pure-ish red (Y 81, U 90, V 240).
        let rgba = yuyv_to_rgba(&[126, 128, 126, 128, 81, 90, 81, 240], 4, 1).unwrap();
        assert_eq!(&rgba[..4], &[128, 128, 128, 255]);
        let red = &rgba[8..12];
        assert!(red[0] > 230 && red[1] < 20 && red[2] < 20, "{red:?}");
        assert!(yuyv_to_rgba(&[0; 3], 2, 1).unwrap_err().to_string().contains("needs 4 bytes"));
    }

    #[test]
    fn a_real_jpeg_round_trips_and_garbage_is_refused() {
        let mut rgb = image::RgbImage::new(16, 8);
        for (x, _, p) in rgb.enumerate_pixels_mut() {
            *p = image::Rgb([if x < 8 { 250 } else { 5 }, 100, 30]);
        }
        let mut jpeg = Vec::new();
        image::DynamicImage::ImageRgb8(rgb)
            .write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
            .unwrap();
        let (w, h, rgba) = mjpeg_to_rgba(&jpeg).unwrap();
        assert_eq!((w, h, rgba.len()), (16, 8, 16 * 8 * 4));
        assert!(rgba[0] > 200 && rgba[15 * 4] < 60, "{:?} {:?}", &rgba[..4], &rgba[60..64]);
        assert!(mjpeg_to_rgba(b"not a jpeg").is_err());
        assert_eq!(rgb_to_rgba(&[1, 2, 3], 1, 1, true).unwrap(), vec![3, 2, 1, 255]);
        assert_eq!(gray_to_rgba(&[7], 1, 1).unwrap(), vec![7, 7, 7, 255]);
        assert_eq!(nv12_to_rgba(&[126, 126, 126, 126, 128, 128], 2, 2).unwrap()[..4], [128, 128, 128, 255]);
    }
}
