//! Arrow columns and Parquet files: the data batch of an export and the language columns.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, FixedSizeListArray, Float32Array, Int64Array, ListArray, RecordBatch, StringArray, StructArray,
};
use arrow_schema::{DataType, Field, Fields, Schema};

use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::*;

pub(super) fn language_fields(with_timestamp: bool) -> Fields {
    let mut fields = vec![
        Field::new("role", DataType::Utf8, false),
        Field::new("content", DataType::Utf8, false),
        Field::new("style", DataType::Utf8, false),
    ];
    if with_timestamp {
        fields.push(Field::new("timestamp", DataType::Float32, false));
    }
    fields.push(Field::new("camera", DataType::Utf8, true));
    fields.push(Field::new("tool_calls", tool_calls_type(), true));
    Fields::from(fields)
}

/// `tool_calls`: a list of JSON strings (always null here: KineDesk records no tool calls).
pub(super) fn tool_calls_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

pub(super) fn language_column(rows: &[Row], persistent: bool) -> Result<ArrayRef, ExportError> {
    let items: Vec<&Language> =
        rows.iter().flat_map(|r| if persistent { r.persistent.iter() } else { r.events.iter() }).collect();
    let fields = language_fields(persistent);
    let strings = |f: &dyn Fn(&Language) -> Option<String>| -> ArrayRef {
        Arc::new(items.iter().map(|l| f(l)).collect::<StringArray>())
    };
    let mut columns: Vec<ArrayRef> = vec![
        strings(&|l| Some(l.role.clone())),
        strings(&|l| Some(l.content.clone())),
        strings(&|l| Some(l.style.clone())),
    ];
    if persistent {
        columns.push(Arc::new(items.iter().map(|l| l.timestamp).collect::<Float32Array>()));
    }
    columns.push(strings(&|l| l.camera.clone()));
    columns.push(arrow_array::new_null_array(&tool_calls_type(), items.len()));
    let values =
        StructArray::try_new(fields.clone(), columns, None).map_err(|e| ExportError::Invalid(e.to_string()))?;
    let mut offsets = vec![0i32];
    for row in rows {
        let n = if persistent { row.persistent.len() } else { row.events.len() };
        offsets.push(offsets.last().copied().unwrap_or(0) + n as i32);
    }
    let field = Arc::new(Field::new("item", DataType::Struct(fields), false));
    let list = ListArray::try_new(field, arrow_buffer::OffsetBuffer::new(offsets.into()), Arc::new(values), None)
        .map_err(|e| ExportError::Invalid(e.to_string()))?;
    Ok(Arc::new(list))
}

pub(super) fn fixed_list(values: Vec<f32>, width: usize) -> Result<ArrayRef, ExportError> {
    let field = Arc::new(Field::new("item", DataType::Float32, false));
    let array = FixedSizeListArray::try_new(field, width as i32, Arc::new(Float32Array::from(values)), None)
        .map_err(|e| ExportError::Invalid(e.to_string()))?;
    Ok(Arc::new(array))
}

pub(super) fn image_fields() -> Fields {
    Fields::from(vec![Field::new("bytes", DataType::Binary, true), Field::new("path", DataType::Utf8, true)])
}

pub(super) fn data_batch(
    rows: &[Row],
    cameras: &[String],
    dof: usize,
    options: ExportOptions,
) -> Result<RecordBatch, ExportError> {
    let extension = if options.images == ImageEncoding::Png { "png" } else { "jpg" };
    let float_list = |name: &str| {
        Field::new(
            name,
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, false)), dof as i32),
            false,
        )
    };
    let mut fields = vec![float_list("observation.state"), float_list("action")];
    let mut columns: Vec<ArrayRef> = vec![
        fixed_list(rows.iter().flat_map(|r| r.state.iter().copied()).collect(), dof)?,
        fixed_list(rows.iter().flat_map(|r| r.action.iter().copied()).collect(), dof)?,
    ];
    for (c, camera) in cameras.iter().enumerate() {
        let mut bytes = BinaryBuilder::new();
        let mut paths = StringBuilder::new();
        for row in rows {
            bytes.append_value(row.images.get(c).map_or(&[][..], Vec::as_slice));
            paths.append_value(format!("frame_{:06}.{extension}", row.index));
        }
        let image =
            StructArray::try_new(image_fields(), vec![Arc::new(bytes.finish()), Arc::new(paths.finish())], None)
                .map_err(|e| ExportError::Invalid(e.to_string()))?;
        fields.push(Field::new(format!("observation.images.{camera}"), DataType::Struct(image_fields()), false));
        columns.push(Arc::new(image));
    }
    fields.push(Field::new("timestamp", DataType::Float32, false));
    columns.push(Arc::new(rows.iter().map(|r| r.timestamp).collect::<Float32Array>()));
    for (name, get) in [
        ("frame_index", (|r: &Row| r.frame_index) as fn(&Row) -> i64),
        ("episode_index", |r: &Row| r.episode_index),
        ("index", |r: &Row| r.index),
        ("task_index", |r: &Row| r.task_index),
    ] {
        fields.push(Field::new(name, DataType::Int64, false));
        columns.push(Arc::new(rows.iter().map(get).collect::<Int64Array>()));
    }
    fields.push(Field::new("is_commanded", DataType::Boolean, false));
    columns.push(Arc::new(rows.iter().map(|r| Some(r.action_commanded)).collect::<arrow_array::BooleanArray>()));
    fields.push(Field::new("rollout.chunk_index", DataType::Int64, false));
    columns.push(Arc::new(rows.iter().map(|r| r.rollout_chunk).collect::<Int64Array>()));
    fields.push(Field::new("is_intervention", DataType::Boolean, false));
    columns.push(Arc::new(rows.iter().map(|r| Some(r.is_intervention)).collect::<arrow_array::BooleanArray>()));
    let language = if options.version == DatasetVersion::V30 {
        &[("language_persistent", true), ("language_events", false)][..]
    } else {
        &[]
    };
    for (name, persistent) in language.iter().copied() {
        let item = Field::new("item", DataType::Struct(language_fields(persistent)), false);
        fields.push(Field::new(name, DataType::List(Arc::new(item)), false));
        columns.push(language_column(rows, persistent)?);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| ExportError::Invalid(e.to_string()))
}

/// A Parquet file being written a row group at a time (each [`DataWriter::write`] is one), so a long episode is
/// never held whole.
pub(super) struct DataWriter {
    path: std::path::PathBuf,
    schema: Arc<Schema>,
    writer: ArrowWriter<File>,
}

impl DataWriter {
    /// Creates `path` with `first`'s schema (plus `metadata` in it) and writes `first`.
    pub(super) fn create(
        path: &Path,
        first: &RecordBatch,
        metadata: Option<(String, String)>,
    ) -> Result<Self, ExportError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error(parent, &e))?;
        }
        let file = File::create(path).map_err(|e| io_error(path, &e))?;
        let mut schema = first.schema().as_ref().clone();
        if let Some((key, value)) = metadata {
            schema = schema.with_metadata(std::collections::HashMap::from([(key, value)]));
        }
        // Encoded images (JPEG, PNG) do not compress and never repeat: no Snappy, no dictionary, no statistics for
        // their bytes, which would only cost time.
        let mut props = WriterProperties::builder().set_compression(parquet::basic::Compression::SNAPPY);
        for field in schema.fields() {
            if let DataType::Struct(children) = field.data_type()
                && children.iter().any(|c| c.name() == "bytes")
            {
                let column = parquet::schema::types::ColumnPath::new(vec![field.name().clone(), "bytes".to_owned()]);
                props = props
                    .set_column_compression(column.clone(), parquet::basic::Compression::UNCOMPRESSED)
                    .set_column_dictionary_enabled(column.clone(), false)
                    .set_column_statistics_enabled(column, parquet::file::properties::EnabledStatistics::None);
            }
        }
        let schema = Arc::new(schema);
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props.build())).map_err(|e| io_error(path, &e))?;
        let mut this = Self { path: path.to_path_buf(), schema, writer };
        this.write(first)?;
        Ok(this)
    }

    /// Writes `batch` as a row group of its own.
    pub(super) fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        let batch = batch.clone().with_schema(self.schema.clone()).map_err(|e| io_error(&self.path, &e))?;
        self.writer.write(&batch).map_err(|e| io_error(&self.path, &e))?;
        self.writer.flush().map_err(|e| io_error(&self.path, &e))
    }

    /// Bytes written so far.
    pub(super) fn bytes(&self) -> u64 {
        self.writer.bytes_written() as u64
    }

    /// Closes the file; its size.
    pub(super) fn finish(self) -> Result<u64, ExportError> {
        self.writer.close().map_err(|e| io_error(&self.path, &e))?;
        Ok(std::fs::metadata(&self.path).map_err(|e| io_error(&self.path, &e))?.len())
    }
}

pub(super) fn write_parquet(
    path: &Path,
    batch: &RecordBatch,
    metadata: Option<(String, String)>,
) -> Result<u64, ExportError> {
    DataWriter::create(path, batch, metadata)?.finish()
}

/// Why a Parquet file could not be read: it would not open, or what is in it is not Parquet this reads.
pub(crate) enum ParquetReadError {
    Io(std::io::Error),
    Format(String),
}

/// Every `.parquet` file under `dir` (and its folders), sorted by path.
pub(crate) fn parquet_files(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The record batches of the Parquet file at `path`, `batch_size` rows each (the reader's default when `None`).
pub(crate) fn read_parquet_batches(
    path: &Path,
    batch_size: Option<usize>,
) -> Result<Vec<RecordBatch>, ParquetReadError> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = File::open(path).map_err(ParquetReadError::Io)?;
    let format = |e: &dyn std::fmt::Display| ParquetReadError::Format(e.to_string());
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| format(&e))?;
    if let Some(rows) = batch_size {
        builder = builder.with_batch_size(rows);
    }
    let reader = builder.build().map_err(|e| format(&e))?;
    reader.map(|batch| batch.map_err(|e| format(&e))).collect()
}
