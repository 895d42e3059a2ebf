// KineDesk arm view: lit instanced meshes (cylinders and spheres of capsules), coloured lines, and the composite
// pass that copies the resolved offscreen image into egui's render pass.

struct Globals {
    view_proj: mat4x4<f32>,
    // xyz: direction toward the key light (world); w unused.
    light_dir: vec4<f32>,
};

@group(0) @binding(0) var<uniform> globals: Globals;

struct MeshIn {
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) model_0: vec4<f32>,
    @location(3) model_1: vec4<f32>,
    @location(4) model_2: vec4<f32>,
    @location(5) model_3: vec4<f32>,
    @location(6) color: vec4<f32>,
};

struct MeshOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) normal: vec3<f32>,
    @location(1) color: vec4<f32>,
};

@vertex
fn vs_mesh(in: MeshIn) -> MeshOut {
    let model = mat4x4<f32>(in.model_0, in.model_1, in.model_2, in.model_3);
    var out: MeshOut;
    out.clip = globals.view_proj * model * vec4<f32>(in.position, 1.0);
    // Instances scale uniformly across their axis, so the model matrix keeps normal directions.
    out.normal = (model * vec4<f32>(in.normal, 0.0)).xyz;
    out.color = in.color;
    return out;
}

@fragment
fn fs_mesh(in: MeshOut) -> @location(0) vec4<f32> {
    let n = normalize(in.normal);
    let key = normalize(globals.light_dir.xyz);
    let diffuse = max(dot(n, key), 0.0);
    let rim = pow(1.0 - abs(n.z), 2.0) * 0.15;
    let shade = 0.32 + 0.68 * diffuse + rim;
    return vec4<f32>(in.color.rgb * shade, in.color.a);
}

struct LineIn {
    @location(0) position: vec3<f32>,
    @location(1) color: vec4<f32>,
};

struct LineOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) color: vec4<f32>,
};

@vertex
fn vs_line(in: LineIn) -> LineOut {
    var out: LineOut;
    out.clip = globals.view_proj * vec4<f32>(in.position, 1.0);
    out.color = in.color;
    return out;
}

@fragment
fn fs_line(in: LineOut) -> @location(0) vec4<f32> {
    return in.color;
}

@group(0) @binding(0) var composite_texture: texture_2d<f32>;
@group(0) @binding(1) var composite_sampler: sampler;

struct CompositeOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

// One triangle that covers the viewport egui set for this callback.
@vertex
fn vs_composite(@builtin(vertex_index) index: u32) -> CompositeOut {
    let uv = vec2<f32>(f32((index << 1u) & 2u), f32(index & 2u));
    var out: CompositeOut;
    out.clip = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.uv = uv;
    return out;
}

@fragment
fn fs_composite(in: CompositeOut) -> @location(0) vec4<f32> {
    return textureSample(composite_texture, composite_sampler, in.uv);
}
