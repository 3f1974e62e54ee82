#include "lsio/format/grib/source.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "lsio/array/datetime.h"
#include "lsio/array/memory_source.h"
#include "lsio/format/grib/decode.h"
#include "lsio/format/grib/grid.h"
#include "lsio/format/grib/message.h"
#include "lsio/format/grib/scan.h"

namespace lsio::grib {

using array::ChunkDimSlice;
using array::ChunkSelection;
using array::DimRange;
using nlohmann::json;

// Where each field of the view is, and what the files are.
struct GribDatasetSource::Index {
  std::vector<std::string> keys;
  std::vector<uint64_t> sizes;
  std::vector<MessageRef> messages;
  // Per field of the view (DatasetView::fields order): its message and field number.
  struct FieldRef {
    uint32_t message = 0;
    uint32_t field = 0;
  };
  std::vector<FieldRef> fields;
  size_t hypercubes = 0;
};

namespace {

using Index = GribDatasetSource::Index;

// "grid_ccsds" for template 5.42.
std::string PackingName(uint16_t t) {
  switch (t) {
    case 0: return "grid_simple";
    case 2: return "grid_complex";
    case 3: return "grid_complex_spatial_differencing";
    case 4: return "grid_ieee";
    case 40: return "grid_jpeg";
    case 41: return "grid_png";
    case 42: return "grid_ccsds";
    case 200: return "grid_run_length";
    default: return "template 5." + std::to_string(t);
  }
}

// A grid as the index keeps it for coordinates: its section 3 bytes and a field whose
// section 3 starts at byte 0 of them.
struct GridSample {
  std::vector<std::byte> section;
  Field field;
};

// What the index learns about one field besides its FieldRecord.
struct FieldExtra {
  uint16_t packing = 0;
  uint8_t bits_per_value = 0;
  uint16_t nv = 0;
  int64_t total_number = -1;  // numberOfForecastsInEnsemble, when the product has members
};

// ---------------------------------------------------------------------------------------------
// Indexing one file: a walk from message to message over the parts read so far.

class FileIndexer {
 public:
  struct Read {
    uint64_t offset = 0;
    uint64_t length = 0;
  };

  FileIndexer(uint32_t file, std::string key, uint64_t size, std::string where,
              const OpenOptions& options)
      : file_(file), key_(std::move(key)), size_(size), where_(std::move(where)),
        options_(options) {}

  const std::string& key() const { return key_; }
  uint64_t size() const { return size_; }
  const std::string& where() const { return where_; }

  // The first read.
  Read FirstRead() const {
    if (size_ <= options_.whole_file_bytes) return {0, size_};
    return {0, std::min(size_, Window())};
  }

  // Takes the bytes of a read at `offset` and walks as far as they go. Returns the next read,
  // or nullopt when the file is done. Errors name the file, the message and its offset.
  Result<std::optional<Read>> Advance(uint64_t offset, Buffer bytes);

  std::vector<MessageRef> messages;
  std::vector<FieldRecord> records;
  std::vector<Index::FieldRef> refs;  // message number in this file, field
  std::vector<FieldExtra> extras;
  std::map<uint64_t, GridSample> grids;  // by grid digest

 private:
  struct Piece {
    uint64_t offset = 0;  // in the file
    Buffer bytes;
  };
  uint64_t Window() const {
    // Small messages: read many at once.
    if (last_length_ != 0 && last_length_ < options_.head_bytes) return 8 * options_.head_bytes;
    return options_.head_bytes;
  }
  // [offset, offset + n) of the file from one piece, or nullopt.
  std::optional<std::span<const std::byte>> Get(uint64_t offset, uint64_t n) const {
    for (const Piece& p : pieces_) {
      if (p.offset <= offset && offset + n <= p.offset + p.bytes.size()) {
        return p.bytes.span().subspan(offset - p.offset, n);
      }
    }
    return std::nullopt;
  }
  Read ReadFrom(uint64_t offset, uint64_t at_least) const {
    const uint64_t n = std::max(Window(), at_least);
    return {offset, std::min(n, size_ - offset)};
  }
  std::string Where(uint32_t message, uint64_t offset) const {
    return where_ + ": " + DescribeMessage({message, offset});
  }
  // Drops the pieces that end before `offset`; copies the rest out of the reader's buffers
  // (the reader's budget is not held while the next read waits).
  Status KeepFrom(uint64_t offset);
  Status AddMessage(uint64_t offset, const Message& message,
                    std::span<const MessagePart> parts);

  uint32_t file_;
  std::string key_;
  uint64_t size_;
  std::string where_;
  const OpenOptions& options_;
  std::vector<Piece> pieces_;
  uint64_t cursor_ = 0;
  uint32_t next_message_ = 0;
  uint64_t last_length_ = 0;
  // The file offset of a message's "7777" not yet seen.
  std::optional<uint64_t> end_marker_;
  std::optional<uint32_t> end_marker_message_;
  uint64_t end_marker_message_offset_ = 0;
};

Status FileIndexer::KeepFrom(uint64_t offset) {
  std::vector<Piece> kept;
  for (Piece& p : pieces_) {
    if (p.offset + p.bytes.size() <= offset) continue;
    LSIO_ASSIGN_OR_RETURN(Buffer copy, Buffer::Allocate(p.bytes.size()));
    std::memcpy(copy.mutable_data(), p.bytes.data(), p.bytes.size());
    kept.push_back({p.offset, std::move(copy)});
  }
  pieces_ = std::move(kept);
  return Status::OK();
}

Status FileIndexer::AddMessage(uint64_t offset, const Message& message,
                               std::span<const MessagePart> parts) {
  const uint32_t number = static_cast<uint32_t>(messages.size());
  messages.push_back({file_, message.index, offset, message.length});
  for (size_t f = 0; f < message.fields.size(); ++f) {
    const Field& field = message.fields[f];
    std::span<const std::byte> grid;
    if (field.grid_section.present()) {
      for (const MessagePart& p : parts) {
        if (p.offset <= field.grid_section.offset &&
            uint64_t{field.grid_section.offset} + field.grid_section.length <=
                p.offset + p.bytes.size()) {
          grid = p.bytes.subspan(field.grid_section.offset - p.offset, field.grid_section.length);
          break;
        }
      }
    }
    const FieldLocation location{file_, message.index, static_cast<uint32_t>(f)};
    Result<FieldRecord> r = DescribeFieldWithGridSection(grid, message, f, location);
    if (!r.ok()) {
      return r.status().WithContext(Where(message.index, offset) + ": field " + std::to_string(f));
    }
    if (!grids.count(r->grid_digest) && !grid.empty()) {
      GridSample sample;
      sample.section.assign(grid.begin(), grid.end());
      sample.field = field;
      sample.field.grid_section.offset = 0;
      if (sample.field.grid.pl_count > 0) sample.field.grid.pl_offset -= field.grid_section.offset;
      grids.emplace(r->grid_digest, std::move(sample));
    }
    records.push_back(std::move(*r));
    refs.push_back({number, static_cast<uint32_t>(f)});
    extras.push_back({field.data_representation.template_number,
                      field.data_representation.bits_per_value, field.product.nv,
                      field.product.has_ensemble
                          ? int64_t{field.product.number_of_forecasts_in_ensemble}
                          : int64_t{-1}});
  }
  return Status::OK();
}

Result<std::optional<FileIndexer::Read>> FileIndexer::Advance(uint64_t offset, Buffer bytes) {
  pieces_.push_back({offset, std::move(bytes)});
  while (true) {
    if (end_marker_) {
      const std::optional<std::span<const std::byte>> tail = Get(*end_marker_, 4);
      if (!tail) {
        LSIO_RETURN_IF_ERROR(KeepFrom(*end_marker_));
        return std::optional<Read>(ReadFrom(*end_marker_, 4));
      }
      if (!IsEndMarker(*tail)) {
        return CorruptDataError(Where(*end_marker_message_, end_marker_message_offset_) +
                                ": no \"7777\" at the end of the message (at byte " +
                                std::to_string(*end_marker_) +
                                "): wrong total length or corrupt message");
      }
      end_marker_.reset();
    }
    if (cursor_ >= size_) break;
    // Section 0 of the next message (or the garbage before it).
    const uint64_t left = size_ - cursor_;
    const std::optional<std::span<const std::byte>> head =
        Get(cursor_, std::min<uint64_t>(left, kIndicatorBytes));
    if (!head) {
      LSIO_RETURN_IF_ERROR(KeepFrom(cursor_));
      return std::optional<Read>(ReadFrom(cursor_, kIndicatorBytes));
    }
    if (head->size() < 4 || std::memcmp(head->data(), "GRIB", 4) != 0) {
      // Skip to the next "GRIB" within the piece that holds the cursor, as ecCodes does.
      const Piece* piece = nullptr;
      for (const Piece& p : pieces_) {
        if (p.offset <= cursor_ && cursor_ < p.offset + p.bytes.size()) piece = &p;
      }
      const std::span<const std::byte> in = piece->bytes.span();
      const size_t at = FindNextGrib(in, cursor_ - piece->offset);
      if (at < in.size()) {
        cursor_ = piece->offset + at;
        continue;
      }
      const uint64_t piece_end = piece->offset + in.size();
      if (piece_end >= size_) {
        cursor_ = size_;  // trailing bytes without a message
        break;
      }
      // "GRIB" may straddle the end of the piece.
      cursor_ = std::max(cursor_ + 1, piece_end - 3);
      LSIO_RETURN_IF_ERROR(KeepFrom(cursor_));
      return std::optional<Read>(ReadFrom(cursor_, kIndicatorBytes));
    }
    const uint32_t number = next_message_;
    if (head->size() >= 8 && static_cast<uint8_t>((*head)[7]) != 2) {
      return NotSupportedError(Where(number, cursor_) + ": GRIB edition " +
                               std::to_string(static_cast<uint8_t>((*head)[7])) +
                               "; lsio reads GRIB edition 2 only");
    }
    if (head->size() < kIndicatorBytes) {
      return OutOfRangeError(Where(number, cursor_) + ": truncated: the file ends " +
                             std::to_string(left) + " bytes into the message's indicator");
    }
    Result<MessageExtent> extent = ReadIndicator(*head, cursor_);
    if (!extent.ok()) return extent.status().WithContext(Where(number, cursor_));
    if (extent->edition != 2) {
      return NotSupportedError(Where(number, cursor_) + ": GRIB edition " +
                               std::to_string(extent->edition) +
                               "; lsio reads GRIB edition 2 only");
    }
    if (extent->length > left) {
      return OutOfRangeError(Where(number, cursor_) + ": truncated: the message is " +
                             std::to_string(extent->length) + " bytes long, the file ends " +
                             std::to_string(left) + " bytes after its start");
    }
    // The parts of this message at hand.
    std::vector<MessagePart> parts;
    for (const Piece& p : pieces_) {
      const uint64_t begin = std::max(p.offset, cursor_);
      const uint64_t end = std::min(p.offset + p.bytes.size(), cursor_ + extent->length);
      if (begin >= end) continue;
      parts.push_back({begin - cursor_, p.bytes.span().subspan(begin - p.offset, end - begin)});
    }
    Result<PartialMessage> parsed = ParseMessageParts(parts, {number, cursor_});
    if (!parsed.ok()) return parsed.status().WithContext(where_);
    if (!parsed->message) {
      // Bytes further into the message (section 7's header after a bitmap, a long section 2
      // or 3): keep what the walk has seen, read the rest.
      LSIO_RETURN_IF_ERROR(KeepFrom(cursor_));
      return std::optional<Read>(
          ReadFrom(cursor_ + parsed->need_offset, std::max<uint64_t>(parsed->need_length, 16)));
    }
    LSIO_RETURN_IF_ERROR(AddMessage(cursor_, *parsed->message, parts));
    if (!parsed->end_marker_checked) {
      end_marker_ = cursor_ + extent->length - 4;
      end_marker_message_ = number;
      end_marker_message_offset_ = cursor_;
    }
    last_length_ = extent->length;
    cursor_ += extent->length;
    ++next_message_;
    // Forget what lies before the next message (or its predecessor's end marker).
    const uint64_t keep = end_marker_ ? *end_marker_ : cursor_;
    std::erase_if(pieces_, [&](const Piece& p) { return p.offset + p.bytes.size() <= keep; });
  }
  if (messages.empty()) {
    return NotFoundError(where_ + ": no GRIB message in the file (" + std::to_string(size_) +
                         " bytes)");
  }
  pieces_.clear();
  return std::optional<Read>();
}

// The indexing run: one task per file to start, each handler adding its file's next read.
struct IndexRun {
  std::vector<std::unique_ptr<FileIndexer>> files;
  std::shared_ptr<kvstore::Store> store;
};

sched::ReadTask MakeIndexTask(const std::shared_ptr<IndexRun>& run, FileIndexer* f,
                              FileIndexer::Read read) {
  sched::ReadTask task;
  task.request.key = f->key();
  task.request.range = kvstore::ByteRange::Range(read.offset, read.length);
  task.request.value_size = f->size();
  task.expected_bytes = read.length;
  task.on_read = [run, f, offset = read.offset](Result<Buffer> bytes,
                                                sched::TaskSink& sink) -> Status {
    if (!bytes.ok()) {
      if (bytes.status().code() == StatusCode::kOutOfRange) {
        return bytes.status().WithContext(f->where() + ": the file changed while it was indexed");
      }
      return bytes.status().WithContext(f->where());
    }
    LSIO_ASSIGN_OR_RETURN(std::optional<FileIndexer::Read> next,
                          f->Advance(offset, std::move(*bytes)));
    if (next) sink.Add(MakeIndexTask(run, f, *next));
    return Status::OK();
  };
  return task;
}

class IndexTaskSource final : public sched::TaskSource {
 public:
  explicit IndexTaskSource(std::shared_ptr<IndexRun> run) : run_(std::move(run)) {}
  bool Next(sched::ReadTask* out) override {
    while (next_ < run_->files.size()) {
      FileIndexer* f = run_->files[next_++].get();
      if (f->size() == 0) continue;  // reported after the run
      *out = MakeIndexTask(run_, f, f->FirstRead());
      return true;
    }
    return false;
  }

 private:
  std::shared_ptr<IndexRun> run_;
  size_t next_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Reading a variable.

// Decode scratch for the handlers running at once: one each, reused.
class ScratchPool {
 public:
  std::unique_ptr<DecodeScratch> Take() {
    std::lock_guard lock(mu_);
    if (free_.empty()) return std::make_unique<DecodeScratch>();
    std::unique_ptr<DecodeScratch> s = std::move(free_.back());
    free_.pop_back();
    return s;
  }
  void Give(std::unique_ptr<DecodeScratch> s) {
    std::lock_guard lock(mu_);
    free_.push_back(std::move(s));
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<DecodeScratch>> free_;
};

struct VariableData {
  std::shared_ptr<kvstore::Store> store;
  std::shared_ptr<const Index> index;
  std::vector<int64_t> cells;  // header cell -> field of the view, or -1
  size_t header_rank = 0;
  std::vector<int64_t> shape;
  std::vector<int64_t> chunk_shape;  // 1 per header dim, then the grid
  uint64_t grid_points = 0;
  int64_t row_length = 0;  // points per row of a 2-D grid (alternative row scanning)
};

// One read of one variable.
struct ReadState {
  std::shared_ptr<const VariableData> var;
  std::string label;
  array::ChunkConsumer* consumer = nullptr;
  BufferPool* decode_pool = nullptr;
  mutable ScratchPool scratch;

  struct Cell {
    uint64_t ordinal = 0;
    ChunkSelection selection;
    uint32_t field = 0;  // of the message
  };

  std::string Where(const MessageRef& m) const {
    return var->store->Describe(var->index->keys[m.file]) + ": " +
           DescribeMessage({m.index, m.offset});
  }

  Status OnError(const std::vector<Cell>& cells, const Status& error) const {
    Status first;
    for (const Cell& c : cells) {
      Status st = consumer->OnError(c.ordinal, c.selection, error);
      if (!st.ok() && first.ok()) first = std::move(st);
    }
    return first;
  }

  Status HandleMessage(uint32_t message, const std::vector<Cell>& cells,
                       Result<Buffer> bytes) const {
    const MessageRef& m = var->index->messages[message];
    const std::string where = label + ": " + Where(m);
    if (!bytes.ok()) {
      Status error = bytes.status();
      if (error.code() == StatusCode::kOutOfRange || error.code() == StatusCode::kNotFound) {
        error = Status(error.code(),
                       "the file changed since the dataset was opened: " + error.message());
      }
      return OnError(cells, error.WithContext(where));
    }
    // ParseMessage's and DecodeField's errors name the message themselves.
    const std::string file = label + ": " + var->store->Describe(var->index->keys[m.file]);
    Result<Message> parsed = ParseMessage(bytes->span(), {m.index, m.offset});
    if (!parsed.ok()) return OnError(cells, parsed.status().WithContext(file));
    for (const Cell& c : cells) {
      Result<Buffer> decoded = DecodeCell(*bytes, *parsed, c, file, where);
      if (!decoded.ok()) {
        LSIO_RETURN_IF_ERROR(consumer->OnError(c.ordinal, c.selection, decoded.status()));
        continue;
      }
      LSIO_RETURN_IF_ERROR(
          consumer->Consume(c.ordinal, c.selection, var->chunk_shape, decoded->span())
              .WithContext(where));
    }
    return Status::OK();
  }

  // One field decoded into a pooled buffer: the cell's chunk.
  Result<Buffer> DecodeCell(const Buffer& bytes, const Message& message, const Cell& c,
                            const std::string& file, const std::string& where) const {
    if (c.field >= message.fields.size()) {
      return CorruptDataError(where + ": field " + std::to_string(c.field) +
                              " is gone: the file changed since the dataset was opened");
    }
    const Field& field = message.fields[c.field];
    if (FieldValueCount(field) != var->grid_points) {
      return CorruptDataError(where + ": field " + std::to_string(c.field) + " has " +
                              std::to_string(FieldValueCount(field)) + " points, not " +
                              std::to_string(var->grid_points) +
                              ": the file changed since the dataset was opened");
    }
    LSIO_ASSIGN_OR_RETURN(Buffer decoded, decode_pool->Acquire(var->grid_points * sizeof(float)));
    const std::span<float> out(reinterpret_cast<float*>(decoded.mutable_data()),
                               var->grid_points);
    std::unique_ptr<DecodeScratch> s = scratch.Take();
    Status st = DecodeField(bytes.span(), message, c.field, out, *s);
    scratch.Give(std::move(s));
    if (!st.ok()) return st.WithContext(file);
    // cfgrib puts the points of alternate rows back in order (get_values_in_order).
    if (field.grid.alternative_row_scanning() && var->row_length > 1) {
      const uint64_t n = static_cast<uint64_t>(var->row_length);
      for (uint64_t row = 1; row * n < var->grid_points; row += 2) {
        std::reverse(out.begin() + row * n,
                     out.begin() + std::min(var->grid_points, (row + 1) * n));
      }
    }
    return decoded;
  }
};

class GribChunkTaskSource final : public array::ChunkTaskSource {
 public:
  GribChunkTaskSource(std::shared_ptr<ReadState> state,
                      std::vector<std::vector<std::pair<int64_t, ChunkDimSlice>>> splits,
                      uint64_t cells, uint64_t elements)
      : st_(std::move(state)), splits_(std::move(splits)), total_cells_(cells),
        elements_(elements) {
    position_.assign(splits_.size(), 0);
    exhausted_ = cells == 0;
  }

  uint64_t total_chunks() const override { return total_cells_; }
  uint64_t read_chunks() const override { return total_cells_; }
  uint64_t total_elements() const override { return elements_; }
  uint64_t missing_chunks() const override { return missing_; }

  bool Next(sched::ReadTask* out) override;

 private:
  // The next cell of the selection, with its field of the view (or -1).
  bool NextCell(ChunkSelection* sel, int64_t* field);

  std::shared_ptr<ReadState> st_;
  std::vector<std::vector<std::pair<int64_t, ChunkDimSlice>>> splits_;
  std::vector<size_t> position_;
  bool exhausted_ = false;
  uint64_t total_cells_ = 0;
  uint64_t elements_ = 0;
  uint64_t missing_ = 0;
  uint64_t next_ordinal_ = 0;
  // A cell taken to look ahead and not yet given out.
  std::optional<std::pair<ChunkSelection, int64_t>> lookahead_;
};

bool GribChunkTaskSource::NextCell(ChunkSelection* sel, int64_t* field) {
  if (lookahead_) {
    *sel = std::move(lookahead_->first);
    *field = lookahead_->second;
    lookahead_.reset();
    return true;
  }
  if (exhausted_) return false;
  const size_t rank = splits_.size();
  const VariableData& v = *st_->var;
  sel->grid.resize(rank);
  sel->dims.resize(rank);
  int64_t cell = 0;
  for (size_t d = 0; d < rank; ++d) {
    sel->grid[d] = splits_[d][position_[d]].first;
    sel->dims[d] = splits_[d][position_[d]].second;
    if (d < v.header_rank) cell = cell * v.shape[d] + sel->grid[d];
  }
  *field = v.cells[static_cast<size_t>(cell)];
  size_t d = rank;
  while (d > 0) {
    --d;
    if (++position_[d] < splits_[d].size()) break;
    position_[d] = 0;
    if (d == 0) exhausted_ = true;
  }
  if (rank == 0) exhausted_ = true;
  return true;
}

bool GribChunkTaskSource::Next(sched::ReadTask* out) {
  ChunkSelection sel;
  int64_t field = -1;
  if (!NextCell(&sel, &field)) return false;
  const uint64_t ordinal = next_ordinal_++;
  std::shared_ptr<const ReadState> self = st_;
  *out = sched::ReadTask();
  if (field < 0) {
    ++missing_;
    out->no_read = true;
    out->on_read = [self, ordinal, sel = std::move(sel)](Result<Buffer>, sched::TaskSink&) {
      return self->consumer->ConsumeFill(ordinal, sel, self->var->chunk_shape)
          .WithContext(self->label);
    };
    return true;
  }
  const Index& index = *st_->var->index;
  const Index::FieldRef ref = index.fields[static_cast<size_t>(field)];
  std::vector<ReadState::Cell> cells;
  cells.push_back({ordinal, std::move(sel), ref.field});
  // Following cells in the same message share its read.
  ChunkSelection next;
  int64_t next_field = -1;
  while (NextCell(&next, &next_field)) {
    if (next_field < 0 || index.fields[static_cast<size_t>(next_field)].message != ref.message) {
      lookahead_.emplace(std::move(next), next_field);
      break;
    }
    cells.push_back({next_ordinal_++, std::move(next),
                     index.fields[static_cast<size_t>(next_field)].field});
  }
  const MessageRef& m = index.messages[ref.message];
  out->request.key = index.keys[m.file];
  out->request.range = kvstore::ByteRange::Range(m.offset, m.length);
  out->request.value_size = index.sizes[m.file];
  out->expected_bytes = m.length;
  out->on_read = [self, message = ref.message, cells = std::move(cells)](
                     Result<Buffer> bytes, sched::TaskSink&) {
    return self->HandleMessage(message, cells, std::move(bytes));
  };
  return true;
}

class GribVariableSource final : public array::ArraySource {
 public:
  GribVariableSource(array::ArrayInfo info, std::shared_ptr<const VariableData> data,
                     std::string encoding)
      : info_(std::move(info)), data_(std::move(data)), encoding_(std::move(encoding)) {}

  const array::ArrayInfo& info() const override { return info_; }
  const std::shared_ptr<kvstore::Store>& store() const override { return data_->store; }
  std::string DescribeEncoding() const override { return encoding_; }

  Result<std::unique_ptr<array::ChunkTaskSource>> PlanRead(
      const array::ReadPlan& plan) const override {
    const std::string& label = plan.label;
    if (plan.consumer == nullptr) return InvalidArgumentError(label + ": no consumer");
    if (plan.ranges.size() != info_.rank()) {
      return InvalidArgumentError(label + ": selection has " +
                                  std::to_string(plan.ranges.size()) + " dimensions, the array " +
                                  std::to_string(info_.rank()));
    }
    std::vector<std::vector<std::pair<int64_t, ChunkDimSlice>>> splits;
    uint64_t cells = 1, elements = 1;
    for (size_t d = 0; d < info_.rank(); ++d) {
      const DimRange& r = plan.ranges[d];
      const int64_t n = info_.shape[d];
      if (r.count < 0 || (r.count > 0 && (r.index(0) < 0 || r.index(0) >= n ||
                                          r.index(r.count - 1) < 0 ||
                                          r.index(r.count - 1) >= n))) {
        return OutOfRangeError(label + ": selection leaves dimension " + std::to_string(d) +
                               " of size " + std::to_string(n));
      }
      splits.push_back(array::SplitDimension(r, data_->chunk_shape[d]));
      if (d < data_->header_rank) cells *= static_cast<uint64_t>(r.count);
      elements *= static_cast<uint64_t>(r.count);
    }
    if (elements == 0) cells = 0;
    auto st = std::make_shared<ReadState>();
    st->var = data_;
    st->label = label;
    st->consumer = plan.consumer;
    st->decode_pool = plan.decode_pool ? plan.decode_pool : &DefaultBufferPool();
    return std::unique_ptr<array::ChunkTaskSource>(
        std::make_unique<GribChunkTaskSource>(std::move(st), std::move(splits), cells, elements));
  }

 private:
  array::ArrayInfo info_;
  std::shared_ptr<const VariableData> data_;
  std::string encoding_;
};

// ---------------------------------------------------------------------------------------------
// Building the dataset from the view.

array::ElementType Float32() {
  array::ElementType e;
  e.kind = array::DataTypeKind::kNumeric;
  e.storage = DataType::kFloat32;
  e.item_size = 4;
  e.name = "float32";
  return e;
}

array::ElementType Float64() {
  array::ElementType e = Float32();
  e.storage = DataType::kFloat64;
  e.item_size = 8;
  e.name = "float64";
  return e;
}

array::ElementType Int64() {
  array::ElementType e = Float32();
  e.storage = DataType::kInt64;
  e.item_size = 8;
  e.name = "int64";
  return e;
}

array::ElementType Time(bool delta) {
  array::ElementType e;
  e.kind = delta ? array::DataTypeKind::kTimedelta64 : array::DataTypeKind::kDatetime64;
  e.storage = DataType::kInt64;
  e.item_size = 8;
  e.time_unit = "ns";
  e.name = delta ? "timedelta64[ns]" : "datetime64[ns]";
  return e;
}

template <typename T>
std::vector<std::byte> ElementBytes(T v) {
  std::vector<std::byte> b(sizeof(T));
  std::memcpy(b.data(), &v, sizeof(T));
  return b;
}

template <typename T>
std::shared_ptr<std::vector<std::byte>> ValueBytes(const std::vector<T>& v) {
  auto out = std::make_shared<std::vector<std::byte>>(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out->data(), v.data(), out->size());
  return out;
}

// cfgrib's COORD_ATTRS, as xarray shows them once decoded (time units and calendars, and the
// step's dtype and units, are the encoding of datetime64 / timedelta64 values).
json CoordinateAttributes(const std::string& name) {
  if (name == "latitude") {
    return {{"units", "degrees_north"}, {"standard_name", "latitude"}, {"long_name", "latitude"}};
  }
  if (name == "longitude") {
    return {{"units", "degrees_east"}, {"standard_name", "longitude"}, {"long_name", "longitude"}};
  }
  if (name == "time") {
    return {{"standard_name", "forecast_reference_time"},
            {"long_name", "initial time of forecast"}};
  }
  if (name == "valid_time") return {{"standard_name", "time"}, {"long_name", "time"}};
  if (name == "step") {
    return {{"standard_name", "forecast_period"},
            {"long_name", "time since forecast_reference_time"}};
  }
  json a = {{"long_name", "original GRIB coordinate for key: " +
                              std::string(name == "number" ? "number" : "level") + "(" + name +
                              ")"},
            {"units", "1"}};
  static const std::map<std::string, json> kLevels = {
      {"depthBelowLand",
       {{"units", "m"}, {"positive", "down"}, {"long_name", "soil depth"},
        {"standard_name", "depth"}}},
      {"depthBelowLandLayer",
       {{"units", "m"}, {"positive", "down"}, {"long_name", "soil depth"},
        {"standard_name", "depth"}}},
      {"hybrid",
       {{"units", "1"}, {"positive", "down"}, {"long_name", "hybrid level"},
        {"standard_name", "atmosphere_hybrid_sigma_pressure_coordinate"}}},
      {"heightAboveGround",
       {{"units", "m"}, {"positive", "up"}, {"long_name", "height above the surface"},
        {"standard_name", "height"}}},
      {"isobaricInhPa",
       {{"units", "hPa"}, {"positive", "down"}, {"stored_direction", "decreasing"},
        {"standard_name", "air_pressure"}, {"long_name", "pressure"}}},
      {"isobaricInPa",
       {{"units", "Pa"}, {"positive", "down"}, {"stored_direction", "decreasing"},
        {"standard_name", "air_pressure"}, {"long_name", "pressure"}}},
      {"isobaricLayer",
       {{"units", "Pa"}, {"positive", "down"}, {"standard_name", "air_pressure"},
        {"long_name", "pressure"}}},
      {"number",
       {{"units", "1"}, {"standard_name", "realization"},
        {"long_name", "ensemble member numerical id"}}},
  };
  auto it = kLevels.find(name);
  if (it != kLevels.end()) a.update(it->second);
  return a;
}

// The grid keys cfgrib copies into a variable's attributes (GRID_TYPE_MAP), those lsio
// computes.
void AddGridAttributes(const FieldRecord& r, const GridSample* sample, json& a) {
  if (sample == nullptr) return;
  const GridDefinition& g = sample->field.grid;
  const GridDegrees deg = ComputeGridDegrees(g);
  const std::string& type = r.keys.grid_type;
  auto flags = [&] {
    a["GRIB_iScansNegatively"] = g.iscans_negatively() ? 1 : 0;
    a["GRIB_jScansPositively"] = g.jscans_positively() ? 1 : 0;
    a["GRIB_jPointsAreConsecutive"] = g.jpoints_consecutive() ? 1 : 0;
  };
  if (type == "regular_ll" || type == "regular_gg") {
    if (type == "regular_ll") {
      a["GRIB_Nx"] = g.ni;
      a["GRIB_Ny"] = g.nj;
      if (!deg.dj_missing) a["GRIB_jDirectionIncrementInDegrees"] = deg.dj;
    } else {
      a["GRIB_N"] = g.n;
      a["GRIB_Ni"] = g.ni;
      a["GRIB_Nj"] = g.nj;
    }
    if (!deg.di_missing) a["GRIB_iDirectionIncrementInDegrees"] = deg.di;
    a["GRIB_latitudeOfFirstGridPointInDegrees"] = deg.lat1;
    a["GRIB_latitudeOfLastGridPointInDegrees"] = deg.lat2;
    a["GRIB_longitudeOfFirstGridPointInDegrees"] = deg.lon1;
    a["GRIB_longitudeOfLastGridPointInDegrees"] = deg.lon2;
    flags();
  } else if (type == "lambert") {
    a["GRIB_Nx"] = g.ni;
    a["GRIB_Ny"] = g.nj;
    a["GRIB_DxInMetres"] = static_cast<double>(g.dx) / 1000.0;
    a["GRIB_DyInMetres"] = static_cast<double>(g.dy) / 1000.0;
    a["GRIB_LaDInDegrees"] = static_cast<double>(g.lad) / 1e6;
    a["GRIB_LoVInDegrees"] = static_cast<double>(g.lov) / 1e6;
    a["GRIB_Latin1InDegrees"] = static_cast<double>(g.latin1) / 1e6;
    a["GRIB_Latin2InDegrees"] = static_cast<double>(g.latin2) / 1e6;
    a["GRIB_latitudeOfFirstGridPointInDegrees"] = deg.lat1;
    a["GRIB_longitudeOfFirstGridPointInDegrees"] = deg.lon1;
    a["GRIB_latitudeOfSouthernPoleInDegrees"] = static_cast<double>(g.south_pole_lat) / 1e6;
    a["GRIB_longitudeOfSouthernPoleInDegrees"] = static_cast<double>(g.south_pole_lon) / 1e6;
    flags();
  } else if (type == "reduced_gg") {
    a["GRIB_N"] = g.n;
    Result<std::vector<uint32_t>> pl = ReadPointsPerRow(sample->section, sample->field.grid);
    if (pl.ok()) a["GRIB_pl"] = *pl;
  }
}

json VariableAttributes(const Variable& v, const FieldRecord& r, const FieldExtra& extra,
                        const GridSample* sample, const std::vector<std::string>& coordinates) {
  json a = json::object();
  const ParameterNames& p = v.parameter;
  // DATA_ATTRIBUTES_KEYS (unique per variable), then the extra keys read from its first field.
  a["GRIB_paramId"] = p.param_id;
  if (r.data_type != "unknown" && r.data_type != "undef") a["GRIB_dataType"] = r.data_type;
  a["GRIB_numberOfPoints"] = r.number_of_points;
  if (v.type_of_level != "unknown") a["GRIB_typeOfLevel"] = v.type_of_level;
  a["GRIB_stepUnits"] = 1;
  a["GRIB_stepType"] = v.step_type;
  a["GRIB_gridType"] = v.grid_type;
  if (r.uv_relative_to_grid >= 0) a["GRIB_uvRelativeToGrid"] = r.uv_relative_to_grid;
  a["GRIB_NV"] = extra.nv;
  // cfgrib reads values with this missingValue (and masks it to NaN).
  a["GRIB_missingValue"] = static_cast<double>(std::numeric_limits<float>::max());
  if (extra.total_number >= 0) a["GRIB_totalNumber"] = extra.total_number;
  a["GRIB_cfName"] = p.cf_name;
  a["GRIB_cfVarName"] = p.cf_var_name;
  a["GRIB_name"] = p.name;
  a["GRIB_shortName"] = p.short_name;
  a["GRIB_units"] = p.units;
  AddGridAttributes(r, sample, a);
  a["long_name"] = p.name;
  a["units"] = p.units;
  a["standard_name"] = p.cf_name;
  std::string list;
  for (const std::string& c : coordinates) list += (list.empty() ? "" : " ") + c;
  a["coordinates"] = list;
  return a;
}

// The coordinate arrays of one group: those of its hypercube on dimensions of the group's
// variables (xarray's ds[names]).
Status AddCoordinates(const Hypercube& h, const std::string& group, const GridCoordinates* geo,
                      const std::shared_ptr<kvstore::Store>& store,
                      std::vector<std::shared_ptr<const array::ArraySource>>* out) {
  std::map<std::string, int64_t> sizes;
  for (size_t i = 0; i < h.dim_names.size(); ++i) sizes[h.dim_names[i]] = h.dim_sizes[i];
  std::set<std::string> used;
  for (const Variable& v : h.variables) {
    if (v.group == group) used.insert(v.dims.begin(), v.dims.end());
  }
  for (const Coordinate& c : h.coordinates) {
    if (!std::all_of(c.dims.begin(), c.dims.end(),
                     [&](const std::string& d) { return used.count(d) > 0; })) {
      continue;
    }
    array::ArrayInfo info;
    info.path = group + "/" + c.name;
    info.where = store->url() + " (GRIB coordinate '" + c.name + "')";
    info.dims = c.dims;
    int64_t n = 1;
    for (const std::string& d : c.dims) {
      auto it = sizes.find(d);
      if (it == sizes.end()) {
        return InternalError("GRIB view: coordinate '" + c.name + "' on unknown dimension '" + d +
                             "'");
      }
      info.shape.push_back(it->second);
      n *= it->second;
    }
    info.attributes = CoordinateAttributes(c.name);
    std::shared_ptr<std::vector<std::byte>> values;
    switch (c.kind) {
      case CoordinateKind::kTime:
      case CoordinateKind::kStep: {
        info.element = Time(c.kind == CoordinateKind::kStep);
        std::vector<int64_t> ns;
        for (int64_t s : c.ints) {
          int64_t v;
          if (__builtin_mul_overflow(s, array::kNanosPerSecond, &v)) {
            return OutOfRangeError("coordinate '" + c.name + "': " + std::to_string(s) +
                                   " s is outside datetime64[ns]");
          }
          ns.push_back(v);
        }
        values = ValueBytes(ns);
        info.fill_value = ElementBytes(array::kNaT);
        break;
      }
      case CoordinateKind::kValue:
        if (c.name == "number") {
          info.element = Int64();
          std::vector<int64_t> ints;
          for (double x : c.values) ints.push_back(static_cast<int64_t>(x));
          values = ValueBytes(ints);
          info.fill_value = ElementBytes(int64_t{0});
        } else {
          info.element = Float64();
          values = ValueBytes(c.values);
          info.fill_value = ElementBytes(std::numeric_limits<double>::quiet_NaN());
        }
        break;
      case CoordinateKind::kGeography: {
        if (geo == nullptr) continue;  // a grid lsio has no coordinates for
        info.element = Float64();
        const std::vector<double>& v = c.name == "latitude" ? geo->latitudes : geo->longitudes;
        values = ValueBytes(v);
        info.fill_value = ElementBytes(std::numeric_limits<double>::quiet_NaN());
        if (c.name == "latitude" && geo->layout == GridLayout::kRegular && v.size() > 1 &&
            v.front() > v.back()) {
          info.attributes["stored_direction"] = "decreasing";
        }
        break;
      }
    }
    if (static_cast<int64_t>(values->size() / info.element_size()) != n) {
      return InternalError("GRIB view: coordinate '" + c.name + "' has " +
                           std::to_string(values->size() / info.element_size()) +
                           " values for " + std::to_string(n) + " cells");
    }
    LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const array::ArraySource> source,
                          array::MakeMemoryArraySource(std::move(info), std::move(values), store));
    out->push_back(std::move(source));
  }
  return Status::OK();
}

std::string DescribePackings(const Variable& v, const std::vector<FieldExtra>& extras) {
  std::map<uint16_t, std::pair<int, int>> bits;  // template -> min, max bits per value
  size_t fields = 0;
  for (int64_t c : v.cells) {
    if (c < 0) continue;
    ++fields;
    const FieldExtra& e = extras[static_cast<size_t>(c)];
    auto [it, inserted] = bits.try_emplace(e.packing, e.bits_per_value, e.bits_per_value);
    it->second.first = std::min<int>(it->second.first, e.bits_per_value);
    it->second.second = std::max<int>(it->second.second, e.bits_per_value);
  }
  std::string s = "GRIB2 ";
  bool first = true;
  for (const auto& [t, range] : bits) {
    if (!first) s += ", ";
    first = false;
    s += PackingName(t) + " (5." + std::to_string(t) + ")";
    if (t != 4) {
      s += " " + std::to_string(range.first);
      if (range.second != range.first) s += "-" + std::to_string(range.second);
      s += " bits";
    }
  }
  s += "; " + std::to_string(fields) + " of " + std::to_string(v.cells.size()) + " fields present";
  return s;
}

}  // namespace

GribDatasetSource::GribDatasetSource(std::shared_ptr<kvstore::Store> store,
                                     std::shared_ptr<const Index> index,
                                     std::vector<std::shared_ptr<const array::ArraySource>> arrays,
                                     std::map<std::string, json, std::less<>> groups)
    : store_(std::move(store)), index_(std::move(index)), arrays_(std::move(arrays)),
      groups_(std::move(groups)) {}

json GribDatasetSource::group_attributes(std::string_view path) const {
  auto it = groups_.find(path);
  if (it == groups_.end()) return nullptr;
  return it->second;
}

json GribDatasetSource::summary() const {
  const std::vector<std::string>& keys = index_->keys;
  auto plural = [](size_t n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
  };
  std::string text = plural(keys.size(), "file") + " (" + keys.front();
  if (keys.size() > 2) text += " ...";
  if (keys.size() > 1) text += " " + keys.back();
  text += "), " + plural(index_->messages.size(), "message") + ", " +
          plural(index_->fields.size(), "field") + ", " + plural(index_->hypercubes, "hypercube");
  return {{"files", keys.size()},
          {"messages", index_->messages.size()},
          {"fields", index_->fields.size()},
          {"hypercubes", index_->hypercubes},
          {"description", text}};
}

const std::vector<std::string>& GribDatasetSource::files() const { return index_->keys; }
const std::vector<MessageRef>& GribDatasetSource::messages() const { return index_->messages; }

Result<std::shared_ptr<const GribDatasetSource>> OpenDataset(runtime::Context& context,
                                                             std::shared_ptr<kvstore::Store> store,
                                                             std::vector<FileEntry> files,
                                                             const OpenOptions& options) {
  if (files.empty()) return InvalidArgumentError(store->url() + ": no GRIB files to open");
  if (files.size() > UINT32_MAX) return InvalidArgumentError("too many GRIB files");
  // Sizes (a listing usually gave them).
  auto run = std::make_shared<IndexRun>();
  run->store = store;
  for (size_t i = 0; i < files.size(); ++i) {
    FileEntry& f = files[i];
    if (!f.size) {
      LSIO_ASSIGN_OR_RETURN(f.size, store->Size(f.key));
      if (!f.size) return NotFoundError(store->Describe(f.key) + ": no such file");
    }
    run->files.push_back(std::make_unique<FileIndexer>(static_cast<uint32_t>(i), f.key, *f.size,
                                                       store->Describe(f.key), options));
  }
  for (const auto& f : run->files) {
    if (f->size() == 0) return NotFoundError(f->where() + ": no GRIB message in the file (empty)");
  }
  {
    IndexTaskSource source(run);
    sched::SchedulerOptions so;
    so.threads = options.threads;
    so.max_bytes_in_flight = options.max_bytes_in_flight;
    so.cancelled = options.cancelled;
    LSIO_RETURN_IF_ERROR(context.Run(store, source, so).status());
  }

  // Every field, files in order.
  auto index = std::make_shared<Index>();
  std::vector<FieldRecord> records;
  std::vector<FieldExtra> extras;
  std::map<uint64_t, GridSample> grids;
  for (const auto& f : run->files) {
    index->keys.push_back(f->key());
    index->sizes.push_back(f->size());
    const uint32_t base = static_cast<uint32_t>(index->messages.size());
    for (const MessageRef& m : f->messages) index->messages.push_back(m);
    for (size_t i = 0; i < f->records.size(); ++i) {
      records.push_back(std::move(f->records[i]));
      extras.push_back(f->extras[i]);
      index->fields.push_back({base + f->refs[i].message, f->refs[i].field});
    }
    for (auto& [digest, sample] : f->grids) grids.try_emplace(digest, std::move(sample));
  }
  run.reset();
  const DatasetView view = BuildDatasetView(records);
  index->hypercubes = view.hypercubes.size();

  std::vector<std::shared_ptr<const array::ArraySource>> arrays;
  std::map<std::string, json, std::less<>> groups;
  groups[""] = json::object();
  std::shared_ptr<const Index> shared_index = index;
  for (const Hypercube& h : view.hypercubes) {
    // The grid's coordinates, once per hypercube.
    const FieldRecord& geo_record = records[h.geography_field];
    auto sample_it = grids.find(geo_record.grid_digest);
    const GridSample* sample = sample_it == grids.end() ? nullptr : &sample_it->second;
    std::optional<GridCoordinates> geo;
    if (sample != nullptr) {
      Result<GridCoordinates> g = ComputeGridCoordinates(sample->section, sample->field);
      if (g.ok()) geo = std::move(*g);
    }
    std::set<std::string> hypercube_groups;
    for (const Variable& v : h.variables) hypercube_groups.insert(v.group);
    for (const std::string& group : hypercube_groups) {
      json attrs = {{"GRIB_edition", h.edition},
                    {"GRIB_centre", h.centre},
                    {"GRIB_subCentre", h.sub_centre},
                    {"Conventions", "CF-1.7"}};
      groups[group] = attrs;
      // Intermediate groups ("isobaricInhPa" of "isobaricInhPa/instant").
      for (size_t slash = group.find('/'); slash != std::string::npos;
           slash = group.find('/', slash + 1)) {
        groups.try_emplace(group.substr(0, slash), json::object());
      }
      LSIO_RETURN_IF_ERROR(AddCoordinates(h, group, geo ? &*geo : nullptr, store, &arrays));
    }
    for (const Variable& v : h.variables) {
      auto data = std::make_shared<VariableData>();
      data->store = store;
      data->index = shared_index;
      data->cells = v.cells;
      data->header_rank = v.header_rank;
      data->shape = v.shape;
      data->grid_points = 1;
      for (size_t d = 0; d < v.shape.size(); ++d) {
        const bool header = d < v.header_rank;
        data->chunk_shape.push_back(header ? 1 : v.shape[d]);
        if (!header) data->grid_points *= static_cast<uint64_t>(v.shape[d]);
      }
      if (v.shape.size() >= v.header_rank + 2) data->row_length = v.shape.back();
      // The attributes of its first field.
      size_t first = h.geography_field;
      for (int64_t c : v.cells) {
        if (c >= 0) {
          first = static_cast<size_t>(c);
          break;
        }
      }
      const FieldRecord& r = records[first];
      auto grid_it = grids.find(r.grid_digest);
      std::vector<std::string> coordinate_names;
      for (const Coordinate& c : h.coordinates) {
        bool inside = true;
        for (const std::string& d : c.dims) {
          inside &= std::find(v.dims.begin(), v.dims.end(), d) != v.dims.end();
        }
        if (c.kind == CoordinateKind::kGeography && !geo) inside = false;
        if (inside) coordinate_names.push_back(c.name);
      }
      array::ArrayInfo info;
      info.path = v.path;
      info.where = store->url() + " (GRIB variable '" + v.name + "', " +
                   std::to_string(v.cells.size()) + " fields)";
      info.element = Float32();
      info.shape = v.shape;
      info.dims = v.dims;
      info.attributes = VariableAttributes(
          v, r, extras[first], grid_it == grids.end() ? nullptr : &grid_it->second,
          coordinate_names);
      info.fill_value = ElementBytes(std::numeric_limits<float>::quiet_NaN());
      info.chunk_shape = data->chunk_shape;
      info.storage_chunk_shape = data->chunk_shape;
      arrays.push_back(std::make_shared<GribVariableSource>(std::move(info), std::move(data),
                                                            DescribePackings(v, extras)));
    }
  }
  std::sort(arrays.begin(), arrays.end(),
            [](const auto& a, const auto& b) { return a->info().path < b->info().path; });
  return std::make_shared<const GribDatasetSource>(std::move(store), std::move(shared_index),
                                                   std::move(arrays), std::move(groups));
}

}  // namespace lsio::grib
