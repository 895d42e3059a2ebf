//! The msgpack encoding of the openpi-style policy protocol: maps with str keys, numpy arrays as
//! `{"__ndarray__": true, "data": <bytes>, "dtype": "<f4", "shape": [...]}` and numpy scalars as
//! `{"__npgeneric__": true, "data": v, "dtype": "..."}`. Python peers send the marker keys as msgpack *bin* (they are
//! Python bytes); we write them as bin too and accept either on reading.

pub use rmpv::Value;

/// Why a msgpack message could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MsgpackError(pub String);

type Result<T> = std::result::Result<T, MsgpackError>;

fn error(message: impl Into<String>) -> MsgpackError {
    MsgpackError(message.into())
}

/// A numpy array as sent on the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct NdArray {
    pub dtype: String,
    pub shape: Vec<usize>,
    /// Raw C-order bytes.
    pub data: Vec<u8>,
}

impl NdArray {
    #[must_use]
    pub fn from_f32(shape: Vec<usize>, values: &[f32]) -> Self {
        Self { dtype: "<f4".into(), shape, data: values.iter().flat_map(|v| v.to_le_bytes()).collect() }
    }

    #[must_use]
    pub fn from_f64(shape: Vec<usize>, values: &[f64]) -> Self {
        Self { dtype: "<f8".into(), shape, data: values.iter().flat_map(|v| v.to_le_bytes()).collect() }
    }

    #[must_use]
    pub fn from_i64(shape: Vec<usize>, values: &[i64]) -> Self {
        Self { dtype: "<i8".into(), shape, data: values.iter().flat_map(|v| v.to_le_bytes()).collect() }
    }

    #[must_use]
    pub fn from_u8(shape: Vec<usize>, values: Vec<u8>) -> Self {
        Self { dtype: "|u1".into(), shape, data: values }
    }

    /// Elements in the array (`usize::MAX` when the shape's product overflows; such an array is refused anyway).
    #[must_use]
    pub fn len(&self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// Elements in the array, `None` when the shape's product does not fit.
    #[must_use]
    pub fn checked_len(&self) -> Option<usize> {
        self.shape.iter().try_fold(1_usize, |product, dim| product.checked_mul(*dim))
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element size and byte order of `dtype`, checked against the data length.
    fn layout(&self) -> Result<(char, usize, bool)> {
        let bytes = self.dtype.as_bytes();
        if bytes.len() < 3 || !self.dtype.is_ascii() {
            return Err(error(format!("unsupported dtype {:?}", self.dtype)));
        }
        let big_endian = match bytes[0] {
            b'<' | b'|' | b'=' => false,
            b'>' => true,
            _ => return Err(error(format!("unsupported byte order in dtype {:?}", self.dtype))),
        };
        let kind = bytes[1] as char;
        let size: usize = self.dtype[2..].parse().map_err(|_| error(format!("unsupported dtype {:?}", self.dtype)))?;
        if !matches!((kind, size), ('f', 4 | 8) | ('i' | 'u', 1 | 2 | 4 | 8) | ('b', 1)) {
            return Err(error(format!("unsupported dtype {:?}", self.dtype)));
        }
        let expected = self
            .checked_len()
            .and_then(|len| len.checked_mul(size))
            .ok_or_else(|| error(format!("array shape {:?} overflows", self.shape)))?;
        if expected != self.data.len() {
            return Err(error(format!(
                "array of shape {:?} and dtype {} needs {expected} bytes but has {}",
                self.shape,
                self.dtype,
                self.data.len()
            )));
        }
        Ok((kind, size, big_endian))
    }

    /// Every element as f64, whatever the dtype.
    pub fn to_f64(&self) -> Result<Vec<f64>> {
        let (kind, size, big) = self.layout()?;
        Ok(self
            .data
            .chunks_exact(size)
            .map(|raw| {
                let mut b = [0u8; 8];
                b[..size].copy_from_slice(raw);
                if big {
                    b[..size].reverse();
                }
                match (kind, size) {
                    ('f', 4) => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    ('f', _) => f64::from_le_bytes(b),
                    ('i', 1) => f64::from(b[0] as i8),
                    ('i', 2) => f64::from(i16::from_le_bytes([b[0], b[1]])),
                    ('i', 4) => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    ('i', _) => i64::from_le_bytes(b) as f64,
                    _ => u64::from_le_bytes(b) as f64,
                }
            })
            .collect())
    }

    /// Every element as i64 (integers only).
    pub fn to_i64(&self) -> Result<Vec<i64>> {
        let (kind, _, _) = self.layout()?;
        if kind == 'f' {
            return Err(error(format!("expected an integer array, found dtype {}", self.dtype)));
        }
        Ok(self.to_f64()?.into_iter().map(|v| v as i64).collect())
    }

    #[must_use]
    pub fn to_value(&self) -> Value {
        Value::Map(vec![
            (Value::Binary(b"__ndarray__".to_vec()), Value::Boolean(true)),
            (Value::Binary(b"data".to_vec()), Value::Binary(self.data.clone())),
            (Value::Binary(b"dtype".to_vec()), Value::String(self.dtype.clone().into())),
            (
                Value::Binary(b"shape".to_vec()),
                Value::Array(self.shape.iter().map(|d| Value::from(*d as u64)).collect()),
            ),
        ])
    }

    /// Reads an `__ndarray__` map.
    pub fn from_value(value: &Value) -> Result<Self> {
        if get(value, "__ndarray__").is_none_or(|v| v.as_bool() != Some(true)) {
            return Err(error(format!("expected a numpy array, found {}", describe(value))));
        }
        let data = match get(value, "data") {
            Some(Value::Binary(bytes)) => bytes.clone(),
            Some(other) => return Err(error(format!("array data should be bytes, found {}", describe(other)))),
            None => return Err(error("array without data")),
        };
        let dtype = get(value, "dtype").and_then(text).ok_or_else(|| error("array without a dtype"))?;
        let shape = match get(value, "shape") {
            Some(Value::Array(dims)) => dims
                .iter()
                .map(|d| {
                    d.as_u64().map(|d| d as usize).ok_or_else(|| error("array shape must be non-negative integers"))
                })
                .collect::<Result<Vec<_>>>()?,
            _ => return Err(error("array without a shape")),
        };
        let array = Self { dtype, shape, data };
        array.layout()?;
        Ok(array)
    }
}

/// A str or bin map key or string value as text.
#[must_use]
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => s.as_str().map(str::to_owned),
        Value::Binary(b) => String::from_utf8(b.clone()).ok(),
        _ => None,
    }
}

/// `map[key]`, matching str or bin keys.
#[must_use]
pub fn get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    let Value::Map(entries) = map else { return None };
    entries.iter().find_map(|(k, v)| {
        let matches = match k {
            Value::String(s) => s.as_str() == Some(key),
            Value::Binary(b) => b.as_slice() == key.as_bytes(),
            _ => false,
        };
        matches.then_some(v)
    })
}

/// A number, also from a numpy scalar (`__npgeneric__`) map.
#[must_use]
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(i) => i.as_f64(),
        Value::F32(f) => Some(f64::from(*f)),
        Value::F64(f) => Some(*f),
        Value::Map(_) if get(value, "__npgeneric__").is_some() => get(value, "data").and_then(number),
        _ => None,
    }
}

/// What kind of value this is, for error messages.
#[must_use]
pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Boolean(_) => "a boolean",
        Value::Integer(_) => "an integer",
        Value::F32(_) | Value::F64(_) => "a float",
        Value::String(_) => "a string",
        Value::Binary(_) => "bytes",
        Value::Array(_) => "a list",
        Value::Map(_) => "a map",
        Value::Ext(..) => "an extension value",
    }
}

/// A map with str keys.
#[must_use]
pub fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (Value::String(k.into()), v)).collect())
}

pub fn encode(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).map_err(|e| error(format!("cannot encode msgpack: {e}")))?;
    Ok(out)
}

/// Decodes one msgpack value; trailing bytes are an error.
pub fn decode(bytes: &[u8]) -> Result<Value> {
    let mut cursor = std::io::Cursor::new(bytes);
    let value = rmpv::decode::read_value_with_max_depth(&mut cursor, 64)
        .map_err(|e| error(format!("not valid msgpack: {e}")))?;
    if (cursor.position() as usize) < bytes.len() {
        return Err(error(format!(
            "{} unexpected bytes after the msgpack value",
            bytes.len() - cursor.position() as usize
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_round_trip_and_accept_str_or_bin_keys() {
        let array = NdArray::from_f32(vec![2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let bytes = encode(&map(vec![("actions", array.to_value())])).unwrap();
        let back = decode(&bytes).unwrap();
        let read = NdArray::from_value(get(&back, "actions").unwrap()).unwrap();
        assert_eq!(read, array);
        assert_eq!(read.to_f64().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // The same array with str marker keys (as some peers write it).
        let str_keys = map(vec![
            ("__ndarray__", Value::Boolean(true)),
            ("data", Value::Binary(vec![1, 0, 0, 0, 0, 0, 0, 0])),
            ("dtype", Value::from("<i8")),
            ("shape", Value::Array(vec![Value::from(1)])),
        ]);
        assert_eq!(NdArray::from_value(&str_keys).unwrap().to_i64().unwrap(), vec![1]);
    }

    #[test]
    fn malformed_arrays_are_explained() {
        let short = NdArray { dtype: "<f4".into(), shape: vec![3], data: vec![0; 8] };
        assert!(NdArray::from_value(&short.to_value()).unwrap_err().0.contains("needs 12 bytes but has 8"));
        let odd = NdArray { dtype: "<c16".into(), shape: vec![1], data: vec![0; 16] };
        assert!(NdArray::from_value(&odd.to_value()).unwrap_err().0.contains("unsupported dtype"));
        assert!(NdArray::from_value(&Value::from(3)).unwrap_err().0.contains("expected a numpy array"));
        assert!(decode(&[0x92, 0x01]).unwrap_err().0.contains("not valid msgpack"));
        assert!(decode(&[0x01, 0x02]).unwrap_err().0.contains("unexpected bytes"));
        // A non-ASCII dtype and a shape whose product wraps are refused, not a panic or a wrong size.
        let accented = NdArray { dtype: "<fé".into(), shape: vec![1], data: vec![0; 4] };
        assert!(NdArray::from_value(&accented.to_value()).unwrap_err().0.contains("unsupported dtype"));
        let wraps = NdArray { dtype: "<f4".into(), shape: vec![(1 << 63) + 4, 2], data: vec![0; 32] };
        assert!(NdArray::from_value(&wraps.to_value()).unwrap_err().0.contains("overflows"));
        let big = NdArray { dtype: ">f8".into(), shape: vec![1], data: 2.5f64.to_be_bytes().to_vec() };
        assert_eq!(big.to_f64().unwrap(), vec![2.5]);
    }
}
