//! The ROS 2 messages the desk speaks, encoded as on the wire: CDR (XCDR1), little- or big-endian, each primitive
//! aligned to its size counted from the start of the payload (after the 4-byte encapsulation header).
//!
//! The same codec reads DDS samples (whose encapsulation header the DDS layer has already parsed) and rosbag2 (MCAP)
//! messages (which start with it): [`RosMessage::from_cdr`] takes the whole thing, [`RosMessage::decode`] the body.

/// A CDR body that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CdrError {
    #[error("the message ends at byte {len} where {field} needs {needed} more byte(s) at {at}")]
    Truncated { field: &'static str, at: usize, needed: usize, len: usize },
    #[error("{field} at byte {at} is not valid UTF-8")]
    Utf8 { field: &'static str, at: usize },
    #[error("{field} at byte {at} says {count} element(s), more than the {left} byte(s) left could hold")]
    TooLong { field: &'static str, at: usize, count: usize, left: usize },
    #[error("unknown CDR encapsulation {0:02x?} (CDR_LE 00 01 and CDR_BE 00 00 are read)")]
    Encapsulation([u8; 2]),
}

/// Reads a CDR body.
pub struct CdrReader<'a> {
    data: &'a [u8],
    at: usize,
    little: bool,
}

impl<'a> CdrReader<'a> {
    #[must_use]
    pub fn new(data: &'a [u8], little_endian: bool) -> Self {
        Self { data, at: 0, little: little_endian }
    }

    fn take(&mut self, field: &'static str, n: usize, align: usize) -> Result<&'a [u8], CdrError> {
        let start = self.at.next_multiple_of(align);
        let end = start.checked_add(n).filter(|end| *end <= self.data.len()).ok_or(CdrError::Truncated {
            field,
            at: start,
            needed: n,
            len: self.data.len(),
        })?;
        self.at = end;
        Ok(&self.data[start..end])
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], CdrError> {
        let mut bytes: [u8; N] = self.take(field, N, N)?.try_into().unwrap_or([0; N]);
        if !self.little {
            bytes.reverse();
        }
        Ok(bytes)
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, CdrError> {
        Ok(self.take(field, 1, 1)?[0])
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, CdrError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub fn i32(&mut self, field: &'static str) -> Result<i32, CdrError> {
        Ok(i32::from_le_bytes(self.array(field)?))
    }

    pub fn f64(&mut self, field: &'static str) -> Result<f64, CdrError> {
        Ok(f64::from_le_bytes(self.array(field)?))
    }

    /// A sequence length, checked against the bytes left (each element taking at least `min_size`).
    fn count(&mut self, field: &'static str, min_size: usize) -> Result<usize, CdrError> {
        let at = self.at;
        let count = self.u32(field)? as usize;
        let left = self.data.len() - self.at;
        if count.saturating_mul(min_size.max(1)) > left {
            return Err(CdrError::TooLong { field, at, count, left });
        }
        Ok(count)
    }

    pub fn string(&mut self, field: &'static str) -> Result<String, CdrError> {
        let length = self.count(field, 1)?;
        let at = self.at;
        let bytes = self.take(field, length, 1)?;
        // The length counts the terminating NUL (some writers send 0 for the empty string).
        let text = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        std::str::from_utf8(text).map(str::to_owned).map_err(|_| CdrError::Utf8 { field, at })
    }

    pub fn strings(&mut self, field: &'static str) -> Result<Vec<String>, CdrError> {
        let count = self.count(field, 4)?;
        (0..count).map(|_| self.string(field)).collect()
    }

    pub fn f64s(&mut self, field: &'static str) -> Result<Vec<f64>, CdrError> {
        let count = self.count(field, 8)?;
        let little = self.little;
        let bytes = self.take(field, count * 8, if count == 0 { 1 } else { 8 })?;
        Ok(bytes
            .chunks_exact(8)
            .map(|b| {
                let mut a: [u8; 8] = b.try_into().unwrap_or([0; 8]);
                if !little {
                    a.reverse();
                }
                f64::from_le_bytes(a)
            })
            .collect())
    }

    pub fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], CdrError> {
        let count = self.count(field, 1)?;
        self.take(field, count, 1)
    }
}

/// Writes a CDR body (little-endian).
#[derive(Default)]
pub struct CdrWriter {
    data: Vec<u8>,
}

impl CdrWriter {
    fn align(&mut self, n: usize) {
        let padded = self.data.len().next_multiple_of(n);
        self.data.resize(padded, 0);
    }

    pub fn u8(&mut self, v: u8) {
        self.data.push(v);
    }

    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.data.extend_from_slice(&v.to_le_bytes());
    }

    pub fn i32(&mut self, v: i32) {
        self.align(4);
        self.data.extend_from_slice(&v.to_le_bytes());
    }

    pub fn f64(&mut self, v: f64) {
        self.align(8);
        self.data.extend_from_slice(&v.to_le_bytes());
    }

    fn length(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }

    pub fn string(&mut self, s: &str) {
        self.length(s.len() + 1);
        self.data.extend_from_slice(s.as_bytes());
        self.data.push(0);
    }

    pub fn strings(&mut self, values: &[String]) {
        self.length(values.len());
        for s in values {
            self.string(s);
        }
    }

    pub fn f64s(&mut self, values: &[f64]) {
        self.length(values.len());
        for v in values {
            self.f64(*v);
        }
    }

    pub fn bytes(&mut self, values: &[u8]) {
        self.length(values.len());
        self.data.extend_from_slice(values);
    }

    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.data
    }
}

/// The CDR_LE encapsulation header.
pub const CDR_LE_HEADER: [u8; 4] = [0x00, 0x01, 0x00, 0x00];

/// A ROS 2 message type the desk reads or writes.
pub trait RosMessage: Sized + std::fmt::Debug {
    /// The ROS name, as in a bag's topic list: `sensor_msgs/msg/JointState`.
    const ROS_TYPE: &'static str;
    /// The DDS type name on the wire: `sensor_msgs::msg::dds_::JointState_`.
    const DDS_TYPE: &'static str;

    fn encode(&self, w: &mut CdrWriter);
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError>;

    /// The body alone (what a DDS writer sends after its own encapsulation header).
    fn to_body(&self) -> Vec<u8> {
        let mut w = CdrWriter::default();
        self.encode(&mut w);
        w.into_bytes()
    }

    /// Header and body, as in a rosbag2 message.
    fn to_cdr(&self) -> Vec<u8> {
        let mut out = CDR_LE_HEADER.to_vec();
        out.extend(self.to_body());
        out
    }

    /// Reads a message that starts with its encapsulation header (rosbag2).
    fn from_cdr(data: &[u8]) -> Result<Self, CdrError> {
        let header: [u8; 4] = data.get(..4).and_then(|h| h.try_into().ok()).ok_or(CdrError::Truncated {
            field: "encapsulation",
            at: 0,
            needed: 4,
            len: data.len(),
        })?;
        let little = match [header[0], header[1]] {
            [0x00, 0x01] => true,
            [0x00, 0x00] => false,
            other => return Err(CdrError::Encapsulation(other)),
        };
        Self::decode(&mut CdrReader::new(&data[4..], little))
    }
}

/// `builtin_interfaces/Time` (and `Duration`, the same layout).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Time {
    pub sec: i32,
    pub nanosec: u32,
}

impl Time {
    #[must_use]
    pub fn from_secs_f64(seconds: f64) -> Self {
        let whole = seconds.floor();
        let nanosec = ((seconds - whole) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
        Self { sec: whole.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32, nanosec }
    }

    #[must_use]
    pub fn as_secs_f64(self) -> f64 {
        f64::from(self.sec) + f64::from(self.nanosec) * 1e-9
    }

    /// The time as nanoseconds (negative times are 0).
    #[must_use]
    pub fn as_nanos(self) -> u64 {
        u64::try_from(self.sec).unwrap_or(0) * 1_000_000_000 + u64::from(self.nanosec)
    }

    fn encode(self, w: &mut CdrWriter) {
        w.i32(self.sec);
        w.u32(self.nanosec);
    }

    fn decode(r: &mut CdrReader<'_>, field: &'static str) -> Result<Self, CdrError> {
        Ok(Self { sec: r.i32(field)?, nanosec: r.u32(field)? })
    }
}

/// `std_msgs/Header`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Header {
    pub stamp: Time,
    pub frame_id: String,
}

impl Header {
    fn encode(&self, w: &mut CdrWriter) {
        self.stamp.encode(w);
        w.string(&self.frame_id);
    }

    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self { stamp: Time::decode(r, "header.stamp")?, frame_id: r.string("header.frame_id")? })
    }
}

/// `sensor_msgs/JointState`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JointStateMsg {
    pub header: Header,
    pub name: Vec<String>,
    pub position: Vec<f64>,
    pub velocity: Vec<f64>,
    pub effort: Vec<f64>,
}

impl RosMessage for JointStateMsg {
    const ROS_TYPE: &'static str = "sensor_msgs/msg/JointState";
    const DDS_TYPE: &'static str = "sensor_msgs::msg::dds_::JointState_";

    fn encode(&self, w: &mut CdrWriter) {
        self.header.encode(w);
        w.strings(&self.name);
        w.f64s(&self.position);
        w.f64s(&self.velocity);
        w.f64s(&self.effort);
    }

    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self {
            header: Header::decode(r)?,
            name: r.strings("name")?,
            position: r.f64s("position")?,
            velocity: r.f64s("velocity")?,
            effort: r.f64s("effort")?,
        })
    }
}

/// `trajectory_msgs/JointTrajectoryPoint`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JointTrajectoryPoint {
    pub positions: Vec<f64>,
    pub velocities: Vec<f64>,
    pub accelerations: Vec<f64>,
    pub effort: Vec<f64>,
    pub time_from_start: Time,
}

/// `trajectory_msgs/JointTrajectory`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JointTrajectoryMsg {
    pub header: Header,
    pub joint_names: Vec<String>,
    pub points: Vec<JointTrajectoryPoint>,
}

impl RosMessage for JointTrajectoryMsg {
    const ROS_TYPE: &'static str = "trajectory_msgs/msg/JointTrajectory";
    const DDS_TYPE: &'static str = "trajectory_msgs::msg::dds_::JointTrajectory_";

    fn encode(&self, w: &mut CdrWriter) {
        self.header.encode(w);
        w.strings(&self.joint_names);
        w.length(self.points.len());
        for p in &self.points {
            w.f64s(&p.positions);
            w.f64s(&p.velocities);
            w.f64s(&p.accelerations);
            w.f64s(&p.effort);
            p.time_from_start.encode(w);
        }
    }

    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        let header = Header::decode(r)?;
        let joint_names = r.strings("joint_names")?;
        // A point is at least four empty sequences and a duration: 24 bytes.
        let count = r.count("points", 24)?;
        let points = (0..count)
            .map(|_| {
                Ok(JointTrajectoryPoint {
                    positions: r.f64s("points.positions")?,
                    velocities: r.f64s("points.velocities")?,
                    accelerations: r.f64s("points.accelerations")?,
                    effort: r.f64s("points.effort")?,
                    time_from_start: Time::decode(r, "points.time_from_start")?,
                })
            })
            .collect::<Result<_, CdrError>>()?;
        Ok(Self { header, joint_names, points })
    }
}

/// `sensor_msgs/Image`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageMsg {
    pub header: Header,
    pub height: u32,
    pub width: u32,
    pub encoding: String,
    pub is_bigendian: u8,
    pub step: u32,
    pub data: Vec<u8>,
}

impl RosMessage for ImageMsg {
    const ROS_TYPE: &'static str = "sensor_msgs/msg/Image";
    const DDS_TYPE: &'static str = "sensor_msgs::msg::dds_::Image_";

    fn encode(&self, w: &mut CdrWriter) {
        self.header.encode(w);
        w.u32(self.height);
        w.u32(self.width);
        w.string(&self.encoding);
        w.u8(self.is_bigendian);
        w.u32(self.step);
        w.bytes(&self.data);
    }

    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self {
            header: Header::decode(r)?,
            height: r.u32("height")?,
            width: r.u32("width")?,
            encoding: r.string("encoding")?,
            is_bigendian: r.u8("is_bigendian")?,
            step: r.u32("step")?,
            data: r.bytes("data")?.to_vec(),
        })
    }
}

/// `sensor_msgs/CompressedImage`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompressedImageMsg {
    pub header: Header,
    pub format: String,
    pub data: Vec<u8>,
}

impl RosMessage for CompressedImageMsg {
    const ROS_TYPE: &'static str = "sensor_msgs/msg/CompressedImage";
    const DDS_TYPE: &'static str = "sensor_msgs::msg::dds_::CompressedImage_";

    fn encode(&self, w: &mut CdrWriter) {
        self.header.encode(w);
        w.string(&self.format);
        w.bytes(&self.data);
    }

    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self { header: Header::decode(r)?, format: r.string("format")?, data: r.bytes("data")?.to_vec() })
    }
}

/// The DDS topic of a ROS topic: `/joint_states` → `rt/joint_states`.
#[must_use]
pub fn dds_topic(ros_topic: &str) -> String {
    format!("rt/{}", ros_topic.trim_start_matches('/'))
}

/// The ROS topic of a DDS topic (`rt/joint_states` → `/joint_states`), `None` for topics that are not ROS topics.
#[must_use]
pub fn ros_topic(dds_topic: &str) -> Option<String> {
    dds_topic.strip_prefix("rt/").map(|rest| format!("/{rest}"))
}

/// The ROS type of a DDS type name: `sensor_msgs::msg::dds_::JointState_` → `sensor_msgs/msg/JointState`.
#[must_use]
pub fn ros_type(dds_type: &str) -> String {
    let parts: Vec<&str> = dds_type.split("::").filter(|p| *p != "dds_").collect();
    let mut name = parts.join("/");
    if dds_type.contains("::dds_::") && name.ends_with('_') {
        name.pop();
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joint_state() -> JointStateMsg {
        JointStateMsg {
            header: Header { stamp: Time { sec: 12, nanosec: 500_000_000 }, frame_id: "base".into() },
            name: vec!["j1".into(), "joint_2".into()],
            position: vec![0.5, -1.25],
            velocity: vec![],
            effort: vec![1.0, 2.0],
        }
    }

    #[test]
    fn messages_survive_a_round_trip() {
        let state = joint_state();
        assert_eq!(JointStateMsg::from_cdr(&state.to_cdr()).unwrap(), state);
        let trajectory = JointTrajectoryMsg {
            header: Header::default(),
            joint_names: vec!["a".into()],
            points: vec![
                JointTrajectoryPoint {
                    positions: vec![0.1],
                    velocities: vec![0.0],
                    time_from_start: Time::from_secs_f64(0.05),
                    ..Default::default()
                };
                3
            ],
        };
        assert_eq!(JointTrajectoryMsg::from_cdr(&trajectory.to_cdr()).unwrap(), trajectory);
        let image = ImageMsg {
            header: Header::default(),
            height: 1,
            width: 2,
            encoding: "rgb8".into(),
            is_bigendian: 0,
            step: 6,
            data: vec![1, 2, 3, 4, 5, 6],
        };
        assert_eq!(ImageMsg::from_cdr(&image.to_cdr()).unwrap(), image);
    }

    /// The layout of a JointState byte by byte, as any CDR writer must produce it (alignment counted from the body).
    #[test]
    fn joint_state_layout_matches_cdr() {
        let msg = JointStateMsg {
            header: Header { stamp: Time { sec: 1, nanosec: 2 }, frame_id: String::new() },
            name: vec!["a".into()],
            position: vec![1.0],
            velocity: vec![],
            effort: vec![],
        };
        let body = msg.to_body();
        let mut expected = vec![1, 0, 0, 0, 2, 0, 0, 0]; // stamp
        expected.extend([1, 0, 0, 0, 0]); // frame_id: length 1, NUL
        expected.extend([0, 0, 0]); // pad to 4
        expected.extend([1, 0, 0, 0]); // one name
        expected.extend([2, 0, 0, 0, b'a', 0]); // "a"
        expected.extend([0, 0]); // pad to 4
        expected.extend([1, 0, 0, 0]); // one position (offset 28; the f64 at 32 needs no padding)
        expected.extend(1.0f64.to_le_bytes());
        expected.extend([0, 0, 0, 0, 0, 0, 0, 0]); // no velocity, no effort
        assert_eq!(body, expected);
        // Big-endian reads the same.
        let mut big = vec![0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, b'a', 0, 0, 0];
        big.extend([0, 0, 0, 1]);
        big.extend(1.0f64.to_be_bytes());
        big.extend([0; 8]);
        let mut with_header = vec![0, 0, 0, 0];
        with_header.extend(big);
        assert_eq!(JointStateMsg::from_cdr(&with_header).unwrap(), msg);
    }

    #[test]
    fn damaged_messages_are_errors_that_say_where() {
        let bytes = joint_state().to_cdr();
        for cut in [0, 3, 10, bytes.len() - 1] {
            assert!(JointStateMsg::from_cdr(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = CDR_LE_HEADER.to_vec();
        huge.extend([0; 12]);
        huge.extend(u32::MAX.to_le_bytes());
        let error = JointStateMsg::from_cdr(&huge).unwrap_err();
        assert!(matches!(error, CdrError::TooLong { field: "name", .. }), "{error}");
        assert!(matches!(JointStateMsg::from_cdr(&[7, 7, 0, 0]), Err(CdrError::Encapsulation([7, 7]))));
    }

    #[test]
    fn names_map_between_ros_and_dds() {
        assert_eq!(
            dds_topic("/joint_trajectory_controller/joint_trajectory"),
            "rt/joint_trajectory_controller/joint_trajectory"
        );
        assert_eq!(ros_topic("rt/joint_states").as_deref(), Some("/joint_states"));
        assert_eq!(ros_topic("DCPSParticipant"), None);
        assert_eq!(ros_type(JointStateMsg::DDS_TYPE), JointStateMsg::ROS_TYPE);
        assert_eq!(ros_type(CompressedImageMsg::DDS_TYPE), CompressedImageMsg::ROS_TYPE);
        assert_eq!(Time::from_secs_f64(1.25), Time { sec: 1, nanosec: 250_000_000 });
    }
}
