//! A ROS 2 participant without a ROS installation: a RustDDS domain participant that reads and writes ROS 2 topics
//! (`rt/…` DDS topics with `…::msg::dds_::…_` type names) in the desk's own CDR codec ([`crate::msg`]).
//!
//! - Domain: `ROS_DOMAIN_ID` (default 0).
//! - Discovery: SPDP multicast, plus unicast announcements to the well-known ports on 127.0.0.1 (RustDDS's same-host
//!   loopback), so a peer on the same machine is found where multicast does not work; such a peer must likewise
//!   announce itself to 127.0.0.1 (Cyclone DDS: `<Peers><Peer address="127.0.0.1"/></Peers>` in `CYCLONEDDS_URI`,
//!   Fast DDS: an initial peers list with 127.0.0.1).
//! - QoS ([`Qos`]): sensor streams best-effort (a best-effort reader matches reliable and best-effort writers alike),
//!   commands reliable; history keep-last, durability volatile.

use std::marker::PhantomData;
use std::time::Duration;

use rustdds::mio1::{Events, Interest, Poll, Token};
use rustdds::no_key::{self, DataReader, DataWriter};
use rustdds::policy::{Durability, History, Reliability};
use rustdds::{
    DomainParticipant, QosPolicies, QosPolicyBuilder, RepresentationIdentifier, StatusEvented as _, TopicKind,
};

use crate::msg::{CdrError, CdrReader, RosMessage};

/// What went wrong talking to the DDS domain.
#[derive(Debug, thiserror::Error)]
pub enum Ros2Error {
    #[error("cannot join ROS 2 domain {domain}: {message}")]
    Participant { domain: u16, message: String },
    #[error("cannot open ROS 2 topic {topic}: {message}")]
    Topic { topic: String, message: String },
    #[error("ROS_DOMAIN_ID={0:?} is not a domain id (0–232)")]
    Domain(String),
    #[error("reading {topic}: {message}")]
    Read { topic: String, message: String },
    #[error("publishing on {topic}: {message}")]
    Write { topic: String, message: String },
}

/// How a topic is read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qos {
    /// Sensor data: best-effort, keep the newest `depth`.
    Sensor { depth: i32 },
    /// Commands: reliable, keep the newest `depth`.
    Command { depth: i32 },
}

impl Qos {
    fn policies(self) -> QosPolicies {
        let (reliability, depth) = match self {
            Qos::Sensor { depth } => (Reliability::BestEffort, depth),
            Qos::Command { depth } => {
                (Reliability::Reliable { max_blocking_time: rustdds::Duration::from_millis(100) }, depth)
            }
        };
        QosPolicyBuilder::new()
            .reliability(reliability)
            .durability(Durability::Volatile)
            .history(History::KeepLast { depth: depth.max(1) })
            .build()
    }
}

/// The domain from `ROS_DOMAIN_ID` (unset or empty: 0).
pub fn domain_from_env() -> Result<u16, Ros2Error> {
    match std::env::var("ROS_DOMAIN_ID") {
        Ok(text) if !text.trim().is_empty() => {
            text.trim().parse::<u16>().ok().filter(|d| *d <= 232).ok_or(Ros2Error::Domain(text))
        }
        _ => Ok(0),
    }
}

/// The desk's participant in a ROS 2 domain.
pub struct Ros2Node {
    participant: DomainParticipant,
    publisher: rustdds::Publisher,
    subscriber: rustdds::Subscriber,
    domain: u16,
}

/// A topic seen on the domain.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct DiscoveredTopic {
    /// The ROS name (`/joint_states`), or the DDS name for topics that are not ROS topics.
    pub topic: String,
    /// The ROS type (`sensor_msgs/msg/JointState`).
    pub r#type: String,
    pub publishers: usize,
    pub subscribers: usize,
}

impl Ros2Node {
    /// Joins the domain in `ROS_DOMAIN_ID`.
    pub fn new() -> Result<Self, Ros2Error> {
        Self::on_domain(domain_from_env()?)
    }

    pub fn on_domain(domain: u16) -> Result<Self, Ros2Error> {
        let failed = |e: &dyn std::fmt::Display| Ros2Error::Participant { domain, message: e.to_string() };
        let participant = DomainParticipant::new(domain).map_err(|e| failed(&e))?;
        let qos = QosPolicyBuilder::new().build();
        let publisher = participant.create_publisher(&qos).map_err(|e| failed(&e))?;
        let subscriber = participant.create_subscriber(&qos).map_err(|e| failed(&e))?;
        Ok(Self { participant, publisher, subscriber, domain })
    }

    #[must_use]
    pub fn domain(&self) -> u16 {
        self.domain
    }

    fn topic<M: RosMessage>(&self, ros_topic: &str, qos: Qos) -> Result<rustdds::Topic, Ros2Error> {
        let name = crate::msg::dds_topic(ros_topic);
        self.participant
            .create_topic(name, M::DDS_TYPE.to_owned(), &qos.policies(), TopicKind::NoKey)
            .map_err(|e| Ros2Error::Topic { topic: ros_topic.to_owned(), message: e.to_string() })
    }

    /// Reads `M` from `ros_topic`.
    pub fn subscribe<M: RosMessage + 'static>(&self, ros_topic: &str, qos: Qos) -> Result<Subscription<M>, Ros2Error> {
        let topic = self.topic::<M>(ros_topic, qos)?;
        let failed =
            |e: &dyn std::fmt::Display| Ros2Error::Topic { topic: ros_topic.to_owned(), message: e.to_string() };
        let mut reader = self
            .subscriber
            .create_datareader_no_key::<M, RosAdapter<M>>(&topic, Some(qos.policies()))
            .map_err(|e| failed(&e))?;
        let poll = Poll::new().map_err(|e| failed(&e))?;
        poll.registry().register(&mut reader, Token(0), Interest::READABLE).map_err(|e| failed(&e))?;
        Ok(Subscription { reader, poll, events: Events::with_capacity(4), topic: ros_topic.to_owned() })
    }

    /// Writes `M` on `ros_topic`.
    pub fn publish<M: RosMessage + 'static>(&self, ros_topic: &str, qos: Qos) -> Result<Publication<M>, Ros2Error> {
        let topic = self.topic::<M>(ros_topic, qos)?;
        let writer = self
            .publisher
            .create_datawriter_no_key::<M, RosAdapter<M>>(&topic, Some(qos.policies()))
            .map_err(|e| Ros2Error::Topic { topic: ros_topic.to_owned(), message: e.to_string() })?;
        Ok(Publication { writer, topic: ros_topic.to_owned(), matched: 0 })
    }

    /// The topics other participants publish or subscribe to, with their types (sorted by name).
    #[must_use]
    pub fn discovered(&self) -> Vec<DiscoveredTopic> {
        let mut topics: std::collections::BTreeMap<(String, String), (usize, usize)> = Default::default();
        let name = |dds: &str| crate::msg::ros_topic(dds).unwrap_or_else(|| dds.to_owned());
        for writer in self.participant.discovered_writers() {
            let data = &writer.publication_topic_data;
            topics.entry((name(&data.topic_name), crate::msg::ros_type(&data.type_name))).or_default().0 += 1;
        }
        for reader in self.participant.discovered_readers() {
            let data = &reader.subscription_topic_data;
            topics.entry((name(data.topic_name()), crate::msg::ros_type(data.type_name()))).or_default().1 += 1;
        }
        topics
            .into_iter()
            .map(|((topic, r#type), (publishers, subscribers))| DiscoveredTopic {
                topic,
                r#type,
                publishers,
                subscribers,
            })
            .collect()
    }
}

/// A message as it arrived.
#[derive(Clone, Debug)]
pub struct Received<M> {
    pub message: M,
}

/// A reader of one topic.
pub struct Subscription<M: RosMessage + 'static> {
    reader: DataReader<M, RosAdapter<M>>,
    poll: Poll,
    events: Events,
    topic: String,
}

impl<M: RosMessage + 'static> Subscription<M> {
    /// The next message, waiting up to `timeout` for one to arrive (`None`: none came).
    pub fn next(&mut self, timeout: Duration) -> Result<Option<Received<M>>, Ros2Error> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match self.reader.take_next_sample() {
                Ok(Some(sample)) => return Ok(Some(Received { message: sample.into_value() })),
                Ok(None) => {}
                Err(e) => return Err(Ros2Error::Read { topic: self.topic.clone(), message: e.to_string() }),
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            // Woken when data arrives; a short cap so a wake-up missed between take and poll costs little.
            let _ = self.poll.poll(&mut self.events, Some(left.min(Duration::from_millis(5))));
        }
    }

    #[must_use]
    pub fn topic(&self) -> &str {
        &self.topic
    }
}

/// A writer of one topic.
pub struct Publication<M: RosMessage + 'static> {
    writer: DataWriter<M, RosAdapter<M>>,
    topic: String,
    /// Readers matched, as the writer's status events last said.
    matched: i32,
}

impl<M: RosMessage + 'static> Publication<M> {
    pub fn write(&self, message: M) -> Result<(), Ros2Error> {
        self.writer
            .write(message, None)
            .map_err(|e| Ros2Error::Write { topic: self.topic.clone(), message: format!("{e:?}") })
    }

    #[must_use]
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// How many readers the writer is matched with now (a reliable, volatile writer delivers only to those).
    pub fn matched_readers(&mut self) -> i32 {
        while let Some(status) = self.writer.try_recv_status() {
            if let rustdds::DataWriterStatus::PublicationMatched { current, .. } = status {
                self.matched = current.count();
            }
        }
        self.matched
    }

    /// Waits up to `timeout` for a reader to match; true if one has.
    pub fn wait_for_reader(&mut self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while self.matched_readers() == 0 {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

/// Moves a [`RosMessage`] between RustDDS and the desk's CDR codec.
pub struct RosAdapter<M>(PhantomData<M>);

/// Decodes a sample body with the endianness its encapsulation header named.
pub struct RosDecoder<M>(PhantomData<M>);

impl<M> Clone for RosDecoder<M> {
    fn clone(&self) -> Self {
        Self(PhantomData)
    }
}

impl<'de, M: RosMessage> no_key::Decode<'de, M> for RosDecoder<M> {
    type Error = CdrError;

    fn decode_bytes(self, input_bytes: &'de [u8], encoding: RepresentationIdentifier) -> Result<M, CdrError> {
        M::decode(&mut CdrReader::new(input_bytes, encoding != RepresentationIdentifier::CDR_BE))
    }
}

impl<M: RosMessage> no_key::DeserializerAdapter<M> for RosAdapter<M> {
    type Error = CdrError;
    type Decoded = M;

    fn supported_encodings() -> &'static [RepresentationIdentifier] {
        &[RepresentationIdentifier::CDR_LE, RepresentationIdentifier::CDR_BE]
    }

    fn transform_decoded(decoded: M) -> M {
        decoded
    }
}

impl<M: RosMessage> no_key::DefaultDecoder<M> for RosAdapter<M> {
    type Decoder = RosDecoder<M>;
    const DECODER: RosDecoder<M> = RosDecoder(PhantomData);
}

impl<M: RosMessage> no_key::SerializerAdapter<M> for RosAdapter<M> {
    type Error = std::convert::Infallible;

    fn output_encoding() -> RepresentationIdentifier {
        RepresentationIdentifier::CDR_LE
    }

    fn to_bytes(value: &M) -> Result<rustdds::bytes::Bytes, Self::Error> {
        Ok(rustdds::bytes::Bytes::from(value.to_body()))
    }
}
