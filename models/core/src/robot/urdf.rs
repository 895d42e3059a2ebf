//! Loading any URDF into a [`Robot`]: the serial chain from the root link to a tip link, with fixed joints folded
//! into their neighbours, limits from the file, and visual geometry (STL / OBJ / Collada meshes and primitives).
//!
//! Mesh paths: `package://PKG/rest` is looked up as `ROOT/PKG/rest`, then `ROOT/rest`, where ROOT is the
//! user-given package root (default: the URDF's folder); `file:///abs` and absolute paths are used as they are;
//! other relative paths are relative to the URDF's folder.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use glam::{DAffine3, DQuat, DVec3, EulerRot};

use super::model::{Joint, JointKind, JointLimits, Robot, RobotError};

/// How to load a URDF.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UrdfOptions {
    /// Where `package://` paths are resolved (default: the URDF's folder).
    pub package_root: Option<PathBuf>,
    /// The link whose frame is the flange (default: the last link before the chain branches, or its leaf).
    pub tip_link: Option<String>,
    /// Load mesh files into memory (for drawing). Missing or broken meshes are errors either way.
    pub load_meshes: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum UrdfError {
    #[error("cannot read URDF {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid URDF: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("URDF has no root link (every link is the child of a joint: the links form a cycle)")]
    NoRoot,
    #[error("URDF has several root links ({roots}); a robot must be one tree")]
    SeveralRoots { roots: String },
    #[error("joint {joint} refers to link {link}, which the URDF does not define")]
    UnknownLink { joint: String, link: String },
    #[error("link {link} is the child of more than one joint ({joints}): the kinematic graph has a cycle")]
    Cycle { link: String, joints: String },
    #[error("tip link {tip} does not exist; links are: {known}")]
    UnknownTip { tip: String, known: String },
    #[error(
        "joint {joint} has type {kind}, which KineDesk cannot use in a serial chain (only revolute, continuous, prismatic and fixed)"
    )]
    UnsupportedJoint { joint: String, kind: String },
    #[error("joint {joint} has a zero-length axis")]
    ZeroAxis { joint: String },
    #[error("the chain from {root} to {tip} has no movable joints")]
    NoMovableJoints { root: String, tip: String },
    #[error("mesh {filename} of link {link} not found (looked at {tried})")]
    MissingMesh { link: String, filename: String, tried: String },
    #[error("mesh {path} of link {link} could not be loaded: {message}")]
    BadMesh { link: String, path: PathBuf, message: String },
    #[error(transparent)]
    Robot(#[from] RobotError),
}

/// A triangle mesh in its own frame (metres, after the URDF's scale).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TriangleMesh {
    pub positions: Vec<[f32; 3]>,
    pub normals: Vec<[f32; 3]>,
    pub indices: Vec<u32>,
}

/// Visual geometry attached to a link.
#[derive(Clone, Debug, PartialEq)]
pub enum VisualGeometry {
    Mesh { path: PathBuf, mesh: Option<Arc<TriangleMesh>> },
    Box { size_m: DVec3 },
    Cylinder { radius_m: f64, length_m: f64 },
    Sphere { radius_m: f64 },
}

/// One visual element of the chain, placed in the frame of `link` (0 = base, `j + 1` = moved by joint `j`).
#[derive(Clone, Debug, PartialEq)]
pub struct LinkVisual {
    pub link: usize,
    pub urdf_link: String,
    pub origin: DAffine3,
    pub geometry: VisualGeometry,
    pub rgba: Option<[f32; 4]>,
}

/// The result of loading a URDF.
#[derive(Clone, Debug)]
pub struct LoadedUrdf {
    pub robot: Robot,
    pub visuals: Vec<LinkVisual>,
    /// Assumptions made where the file was silent (e.g. a missing velocity limit).
    pub warnings: Vec<String>,
    pub root_link: String,
    pub tip_link: String,
}

fn pose_to_affine(pose: &urdf_rs::Pose) -> DAffine3 {
    let [x, y, z] = pose.xyz.0;
    let [roll, pitch, yaw] = pose.rpy.0;
    // URDF rpy: fixed-axis roll (X), pitch (Y), yaw (Z), i.e. R = Rz(yaw) · Ry(pitch) · Rx(roll).
    let rotation = DQuat::from_euler(EulerRot::ZYX, yaw, pitch, roll);
    DAffine3::from_rotation_translation(rotation, DVec3::new(x, y, z))
}

/// Default velocity / acceleration when the URDF gives none (conservative).
const DEFAULT_VELOCITY: f64 = 1.0;
const DEFAULT_ACCELERATION: f64 = 5.0;

/// Loads `path` and builds the chain.
pub fn load_urdf(path: &Path, options: &UrdfOptions) -> Result<LoadedUrdf, UrdfError> {
    let text = std::fs::read_to_string(path).map_err(|source| UrdfError::Read { path: path.to_owned(), source })?;
    let urdf = urdf_rs::read_from_string(&text)
        .map_err(|error| UrdfError::Parse { path: path.to_owned(), message: error.to_string() })?;
    let urdf_dir = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let package_root = options.package_root.clone().unwrap_or_else(|| urdf_dir.clone());
    build(&urdf, &urdf_dir, &package_root, options)
}

fn build(
    urdf: &urdf_rs::Robot,
    urdf_dir: &Path,
    package_root: &Path,
    options: &UrdfOptions,
) -> Result<LoadedUrdf, UrdfError> {
    let links: HashMap<&str, &urdf_rs::Link> = urdf.links.iter().map(|link| (link.name.as_str(), link)).collect();
    let mut parent_joint: HashMap<&str, &urdf_rs::Joint> = HashMap::new();
    let mut children: HashMap<&str, Vec<&urdf_rs::Joint>> = HashMap::new();
    for joint in &urdf.joints {
        for link in [&joint.parent.link, &joint.child.link] {
            if !links.contains_key(link.as_str()) {
                return Err(UrdfError::UnknownLink { joint: joint.name.clone(), link: link.clone() });
            }
        }
        if let Some(previous) = parent_joint.insert(joint.child.link.as_str(), joint) {
            return Err(UrdfError::Cycle {
                link: joint.child.link.clone(),
                joints: format!("{}, {}", previous.name, joint.name),
            });
        }
        children.entry(joint.parent.link.as_str()).or_default().push(joint);
    }
    let roots: Vec<&str> =
        urdf.links.iter().map(|link| link.name.as_str()).filter(|name| !parent_joint.contains_key(name)).collect();
    let root = match roots.as_slice() {
        [] => return Err(UrdfError::NoRoot),
        [root] => *root,
        many => return Err(UrdfError::SeveralRoots { roots: many.join(", ") }),
    };

    let tip = match &options.tip_link {
        Some(tip) => {
            if !links.contains_key(tip.as_str()) {
                let mut known: Vec<&str> = links.keys().copied().collect();
                known.sort_unstable();
                return Err(UrdfError::UnknownTip { tip: tip.clone(), known: known.join(", ") });
            }
            tip.clone()
        }
        None => {
            // Follow the only child until the tree branches or ends.
            let mut link = root;
            while let Some([only]) = children.get(link).map(Vec::as_slice) {
                link = only.child.link.as_str();
            }
            link.to_owned()
        }
    };

    // Joints from the root to the tip (walking up from the tip; a repeat means a cycle).
    let mut path = Vec::new();
    let mut seen = HashSet::new();
    let mut link = tip.as_str();
    while let Some(joint) = parent_joint.get(link) {
        if !seen.insert(link) {
            return Err(UrdfError::Cycle { link: link.to_owned(), joints: joint.name.clone() });
        }
        path.push(*joint);
        link = joint.parent.link.as_str();
    }
    path.reverse();

    let mut warnings = Vec::new();
    // Joints that fell back to a default, grouped so the operator reads one line per assumption.
    let mut no_velocity = Vec::new();
    let mut no_acceleration = Vec::new();
    let mut joints = Vec::new();
    // Links on the chain and the chain index of the frame they are attached to, with the fixed offset.
    let mut attachments: Vec<(&str, usize, DAffine3)> = vec![(root, 0, DAffine3::IDENTITY)];
    let mut pending = DAffine3::IDENTITY;
    for joint in &path {
        let origin = pose_to_affine(&joint.origin);
        let kind = match joint.joint_type {
            urdf_rs::JointType::Fixed => {
                pending *= origin;
                attachments.push((joint.child.link.as_str(), joints.len(), pending));
                continue;
            }
            urdf_rs::JointType::Revolute | urdf_rs::JointType::Continuous => JointKind::Revolute,
            urdf_rs::JointType::Prismatic => JointKind::Prismatic,
            ref other => {
                return Err(UrdfError::UnsupportedJoint {
                    joint: joint.name.clone(),
                    kind: format!("{other:?}").to_lowercase(),
                });
            }
        };
        let axis = DVec3::from_array(joint.axis.xyz.0);
        if axis.length() < 1e-12 {
            return Err(UrdfError::ZeroAxis { joint: joint.name.clone() });
        }
        let limit = &joint.limit;
        let (lower, upper) = if matches!(joint.joint_type, urdf_rs::JointType::Continuous)
            || !(limit.lower.is_finite() && limit.upper.is_finite())
            || limit.lower >= limit.upper
        {
            if !matches!(joint.joint_type, urdf_rs::JointType::Continuous) {
                warnings.push(format!("joint {} has no usable position limits; using ±2π", joint.name));
            }
            (-std::f64::consts::TAU, std::f64::consts::TAU)
        } else {
            (limit.lower, limit.upper)
        };
        let velocity = if limit.velocity.is_finite() && limit.velocity > 0.0 {
            limit.velocity
        } else {
            no_velocity.push(joint.name.as_str());
            DEFAULT_VELOCITY
        };
        let acceleration = if limit.acceleration.is_finite() && limit.acceleration > 0.0 {
            limit.acceleration
        } else {
            no_acceleration.push(joint.name.as_str());
            DEFAULT_ACCELERATION
        };
        joints.push(Joint {
            name: joint.name.clone(),
            kind,
            origin: pending * origin,
            axis,
            limits: JointLimits { lower, upper, velocity, acceleration },
        });
        pending = DAffine3::IDENTITY;
        attachments.push((joint.child.link.as_str(), joints.len(), DAffine3::IDENTITY));
    }
    if joints.is_empty() {
        return Err(UrdfError::NoMovableJoints { root: root.to_owned(), tip });
    }
    if !no_velocity.is_empty() {
        warnings
            .push(format!("no velocity limit for {}; using {DEFAULT_VELOCITY} (rad or m)/s", no_velocity.join(", ")));
    }
    if !no_acceleration.is_empty() {
        warnings.push(format!(
            "no acceleration limit for {} (URDF before 1.2 has none); using {DEFAULT_ACCELERATION} (rad or m)/s²",
            no_acceleration.join(", ")
        ));
    }
    let rest_pose: Vec<f64> =
        joints.iter().map(|joint: &Joint| if joint.limits.contains(0.0) { 0.0 } else { joint.limits.mid() }).collect();
    let robot = Robot::new(urdf.name.clone(), DAffine3::IDENTITY, joints, pending, rest_pose)?;

    let materials: HashMap<&str, [f32; 4]> = urdf
        .materials
        .iter()
        .filter_map(|m| m.color.as_ref().map(|c| (m.name.as_str(), c.rgba.0.map(|v| v as f32))))
        .collect();
    let mut visuals = Vec::new();
    for (link_name, link_index, offset) in attachments {
        let Some(link) = links.get(link_name) else { continue };
        for visual in &link.visual {
            let geometry = match &visual.geometry {
                urdf_rs::Geometry::Mesh { filename, scale } => {
                    let resolved = resolve_mesh(filename, urdf_dir, package_root).map_err(|tried| {
                        UrdfError::MissingMesh { link: link_name.to_owned(), filename: filename.clone(), tried }
                    })?;
                    let scale = scale.as_ref().map_or(DVec3::ONE, |s| DVec3::from_array(s.0));
                    let mesh = if options.load_meshes {
                        Some(Arc::new(load_mesh(&resolved, scale).map_err(|message| UrdfError::BadMesh {
                            link: link_name.to_owned(),
                            path: resolved.clone(),
                            message,
                        })?))
                    } else {
                        None
                    };
                    VisualGeometry::Mesh { path: resolved, mesh }
                }
                urdf_rs::Geometry::Box { size } => VisualGeometry::Box { size_m: DVec3::from_array(size.0) },
                urdf_rs::Geometry::Cylinder { radius, length } | urdf_rs::Geometry::Capsule { radius, length } => {
                    VisualGeometry::Cylinder { radius_m: *radius, length_m: *length }
                }
                urdf_rs::Geometry::Sphere { radius } => VisualGeometry::Sphere { radius_m: *radius },
            };
            let rgba = visual.material.as_ref().and_then(|material| {
                material
                    .color
                    .as_ref()
                    .map(|c| c.rgba.0.map(|v| v as f32))
                    .or_else(|| materials.get(material.name.as_str()).copied())
            });
            visuals.push(LinkVisual {
                link: link_index,
                urdf_link: link_name.to_owned(),
                origin: offset * pose_to_affine(&visual.origin),
                geometry,
                rgba,
            });
        }
    }
    Ok(LoadedUrdf { robot, visuals, warnings, root_link: root.to_owned(), tip_link: tip })
}

/// Resolves a mesh reference; on failure returns the paths tried.
fn resolve_mesh(filename: &str, urdf_dir: &Path, package_root: &Path) -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = if let Some(rest) = filename.strip_prefix("package://") {
        let after_package = rest.split_once('/').map_or(rest, |(_, tail)| tail);
        vec![package_root.join(rest), package_root.join(after_package), urdf_dir.join(rest)]
    } else if let Some(absolute) = filename.strip_prefix("file://") {
        vec![PathBuf::from(absolute)]
    } else if Path::new(filename).is_absolute() {
        vec![PathBuf::from(filename)]
    } else {
        vec![urdf_dir.join(filename)]
    };
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .ok_or_else(|| candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
}

/// Loads a mesh file (STL, OBJ or Collada by extension) into one triangle list, scaled.
fn load_mesh(path: &Path, scale: DVec3) -> Result<TriangleMesh, String> {
    let scene = mesh_loader::Loader::default().merge_meshes(true).load(path).map_err(|error| error.to_string())?;
    let mut out = TriangleMesh::default();
    for mesh in &scene.meshes {
        let base = u32::try_from(out.positions.len()).map_err(|_| "mesh too large".to_owned())?;
        out.positions.extend(mesh.vertices.iter().map(|v| {
            [(f64::from(v[0]) * scale.x) as f32, (f64::from(v[1]) * scale.y) as f32, (f64::from(v[2]) * scale.z) as f32]
        }));
        let normals_present = mesh.normals.len() == mesh.vertices.len();
        out.normals.extend((0..mesh.vertices.len()).map(|i| if normals_present { mesh.normals[i] } else { [0.0; 3] }));
        for face in &mesh.faces {
            for index in face {
                if *index as usize >= mesh.vertices.len() {
                    return Err(format!("face index {index} beyond {} vertices", mesh.vertices.len()));
                }
                out.indices.push(base + index);
            }
        }
    }
    if out.indices.is_empty() {
        return Err("no triangles".to_owned());
    }
    if out.normals.iter().all(|n| *n == [0.0; 3]) {
        compute_normals(&mut out);
    }
    Ok(out)
}

/// Area-weighted vertex normals, for meshes that carry none.
fn compute_normals(mesh: &mut TriangleMesh) {
    let mut normals = vec![DVec3::ZERO; mesh.positions.len()];
    for triangle in mesh.indices.chunks_exact(3) {
        let [a, b, c] = [0, 1, 2].map(|k| DVec3::from_array(mesh.positions[triangle[k] as usize].map(f64::from)));
        let n = (b - a).cross(c - a);
        for k in triangle {
            normals[*k as usize] += n;
        }
    }
    mesh.normals = normals.into_iter().map(|n| n.normalize_or_zero().as_vec3().to_array()).collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::robot::fk;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn temp_dir(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("kinedesk-urdf-{tag}-{}", std::process::id()))
    }

    const TWO_LINK: &str = r#"<robot name="two">
      <link name="base"><visual><geometry><box size="0.1 0.1 0.1"/></geometry></visual></link>
      <link name="upper"/>
      <link name="lower"><visual><origin xyz="0 0 0.25"/><geometry><mesh filename="package://two/meshes/tri.stl"/></geometry></visual></link>
      <link name="tool"/>
      <joint name="shoulder" type="revolute"><parent link="base"/><child link="upper"/>
        <origin xyz="0 0 0.5"/><axis xyz="0 1 0"/><limit lower="-1.5" upper="1.5" velocity="2" effort="1"/></joint>
      <joint name="elbow" type="continuous"><parent link="upper"/><child link="lower"/>
        <origin xyz="0 0 0.5" rpy="0 0 1.5707963"/><axis xyz="0 1 0"/></joint>
      <joint name="flange" type="fixed"><parent link="lower"/><child link="tool"/><origin xyz="0 0 0.5"/></joint>
    </robot>"#;

    const ASCII_STL: &str = "solid t\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid t\n";

    #[test]
    fn a_small_urdf_loads_with_fixed_joints_folded_and_meshes_resolved() {
        let dir = temp_dir("ok");
        write(&dir.join("two/meshes"), "tri.stl", ASCII_STL);
        let path = write(&dir, "two.urdf", TWO_LINK);
        let options = UrdfOptions { package_root: Some(dir.clone()), tip_link: None, load_meshes: true };
        let loaded = load_urdf(&path, &options).unwrap();
        assert_eq!((loaded.root_link.as_str(), loaded.tip_link.as_str()), ("base", "tool"));
        assert_eq!(loaded.robot.dof(), 2);
        assert!(loaded.warnings.iter().any(|w| w.contains("elbow") && w.contains("acceleration")));
        // Straight up: 0.5 + 0.5 + 0.5.
        let pose = fk(&loaded.robot, &[0.0, 0.0]).unwrap();
        assert!((pose.position_m - DVec3::new(0.0, 0.0, 1.5)).length() < 1e-9);
        // Shoulder pitched +90° about Y: the arm points along +X.
        let pose = fk(&loaded.robot, &[std::f64::consts::FRAC_PI_2, 0.0]).unwrap();
        assert!((pose.position_m - DVec3::new(1.0, 0.0, 0.5)).length() < 1e-9, "{:?}", pose.position_m);
        let mesh = loaded.visuals.iter().find(|v| matches!(v.geometry, VisualGeometry::Mesh { .. })).unwrap();
        assert_eq!(mesh.link, 2);
        let VisualGeometry::Mesh { mesh: Some(triangles), .. } = &mesh.geometry else { panic!("mesh not loaded") };
        assert_eq!(triangles.indices.len(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_files_get_clear_errors() {
        let dir = temp_dir("bad");
        let options = UrdfOptions { load_meshes: true, ..UrdfOptions::default() };
        let cases: [(&str, String, &str); 7] = [
            ("missing_mesh", TWO_LINK.to_owned(), "mesh package://two/meshes/tri.stl of link lower not found"),
            ("not_xml", "<robot name=".to_owned(), "is not a valid URDF"),
            (
                "unknown_link",
                TWO_LINK.replace(r#"<child link="tool"/>"#, r#"<child link="toool"/>"#),
                "refers to link toool",
            ),
            (
                "cycle",
                TWO_LINK.replace(
                    "</robot>",
                    r#"<joint name="loop" type="fixed"><parent link="tool"/><child link="upper"/></joint></robot>"#,
                ),
                "more than one joint",
            ),
            (
                "floating",
                TWO_LINK.replace(r#"name="shoulder" type="revolute""#, r#"name="shoulder" type="floating""#),
                "type floating",
            ),
            ("two_roots", TWO_LINK.replace("</robot>", r#"<link name="stray"/></robot>"#), "several root links"),
            (
                "zero_axis",
                TWO_LINK.replace(r#"<axis xyz="0 1 0"/><limit"#, r#"<axis xyz="0 0 0"/><limit"#),
                "zero-length axis",
            ),
        ];
        for (name, text, expected) in cases {
            let path = write(&dir, &format!("{name}.urdf"), &text);
            let message = load_urdf(&path, &options).unwrap_err().to_string();
            assert!(message.contains(expected), "{name}: {message}");
        }
        let missing = load_urdf(&dir.join("nope.urdf"), &options).unwrap_err().to_string();
        assert!(missing.contains("cannot read URDF"), "{missing}");
        let tip = UrdfOptions { tip_link: Some("hand".into()), ..UrdfOptions::default() };
        write(&dir.join("two/meshes"), "tri.stl", ASCII_STL);
        let path = write(&dir, "two.urdf", TWO_LINK);
        let tip_error =
            load_urdf(&path, &UrdfOptions { package_root: Some(dir.clone()), ..tip }).unwrap_err().to_string();
        assert!(tip_error.contains("tip link hand does not exist"), "{tip_error}");
        std::fs::write(dir.join("two/meshes/tri.stl"), "solid broken\nfacet normal\n").unwrap();
        let broken =
            load_urdf(&path, &UrdfOptions { package_root: Some(dir.clone()), ..options }).unwrap_err().to_string();
        assert!(broken.contains("could not be loaded"), "{broken}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
