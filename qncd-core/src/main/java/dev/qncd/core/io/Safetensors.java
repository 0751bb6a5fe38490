package dev.qncd.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qncd.core.FormatException;
import dev.qncd.core.util.AtomicFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes the <a href="https://github.com/huggingface/safetensors">safetensors</a> format:
 * an 8-byte little-endian header length {@code N}, {@code N} bytes of JSON
 * ({@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}}),
 * then the raw little-endian tensor bytes, offsets relative to the end of the header.
 *
 * <p>Reading copies each tensor once (bfloat16 and int16 are widened, see {@link TensorBuffers}), from the file into memory owned by PyTorch (no extra Java heap
 * copy, no aliasing of the file mapping), so a checkpoint costs about its tensor bytes plus the
 * largest single tensor. Writing is atomic (temporary file, then rename).
 */
public final class Safetensors {
    /** Header key that holds free-form string metadata. */
    public static final String METADATA_KEY = "__metadata__";

    /** Largest header accepted; real headers are kilobytes, a bigger value means a corrupt file. */
    private static final long MAX_HEADER_BYTES = 100L << 20;

    private static final ObjectMapper JSON = new ObjectMapper();

    private Safetensors() {}

    /**
     * One tensor entry of a safetensors header.
     *
     * @param name tensor name
     * @param type element type
     * @param shape dimensions
     * @param begin first byte, relative to the data section
     * @param end one past the last byte, relative to the data section
     */
    public record TensorInfo(String name, ElementType type, long[] shape, long begin, long end) {
        /** @return the number of bytes of the tensor */
        public long byteSize() {
            return end - begin;
        }
    }

    /**
     * A parsed header: the tensors in file order and the string metadata.
     *
     * @param tensors the entries, in header order
     * @param metadata the {@code __metadata__} map (empty when absent)
     * @param dataStart absolute file offset of the data section
     */
    public record Header(List<TensorInfo> tensors, Map<String, String> metadata, long dataStart) {}

    /**
     * Reads the header only (names, types, shapes, metadata), without loading tensor data.
     *
     * @param file a safetensors file
     * @return the validated header
     * @throws IOException when the file cannot be read
     * @throws FormatException when the file is not valid safetensors
     */
    public static Header readHeader(Path file) throws IOException {
        try (FileChannel ch = open(file)) {
            return readHeader(file, ch);
        }
    }

    /**
     * Reads every tensor of a safetensors file.
     *
     * @param file a safetensors file
     * @param manager the manager the arrays are attached to
     * @return the tensors by name, in file order, with their stored types
     * @throws IOException when the file cannot be read
     * @throws FormatException when the file is corrupt or truncated
     */
    public static LinkedHashMap<String, NDArray> read(Path file, NDManager manager) throws IOException {
        return read(file, manager, ReadSelection.ALL);
    }

    /**
     * Reads the tensors a selection names (the bytes of the others are skipped), each converted to the
     * selection's float type right after it is read.
     *
     * @param file a safetensors file
     * @param manager the manager the arrays are attached to
     * @param selection name prefixes and float type ({@link ReadSelection#ALL} for everything)
     * @return the selected tensors by name, in file order
     * @throws IOException when the file cannot be read
     * @throws FormatException when the file is corrupt or truncated, or no tensor matches the selection
     */
    public static LinkedHashMap<String, NDArray> read(Path file, NDManager manager, ReadSelection selection)
            throws IOException {
        LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
        try (FileChannel ch = open(file)) {
            Header header = readHeader(file, ch);
            ByteBuffer scratch = null;
            try {
                for (TensorInfo info : header.tensors()) {
                    if (!selection.includes(info.name())) {
                        continue;
                    }
                    int size = Math.toIntExact(info.byteSize());
                    if (scratch == null || scratch.capacity() < size) {
                        scratch = ByteBuffer.allocateDirect(Math.max(size, 1)).order(ByteOrder.LITTLE_ENDIAN);
                    }
                    scratch.clear().limit(size);
                    readFully(file, ch, scratch, header.dataStart() + info.begin());
                    scratch.flip();
                    out.put(info.name(), selection.convert(
                            TensorBuffers.fromLittleEndian(manager, scratch, info.shape(), info.type())));
                }
                if (out.isEmpty() && !header.tensors().isEmpty()) {
                    throw selection.nothingSelected(file.toString(),
                            header.tensors().stream().map(TensorInfo::name).toList());
                }
            } catch (RuntimeException | IOException e) {
                out.values().forEach(NDArray::close);
                throw e;
            }
        }
        return out;
    }

    /**
     * Reads the {@code __metadata__} map.
     *
     * @param file a safetensors file
     * @return the metadata (empty when absent)
     * @throws IOException when the file cannot be read
     */
    public static Map<String, String> readMetadata(Path file) throws IOException {
        return readHeader(file).metadata();
    }

    /**
     * Writes tensors (and optional string metadata) atomically.
     *
     * @param file destination
     * @param tensors the tensors by name, written in iteration order
     * @param metadata string metadata, may be empty
     * @throws IOException when the file cannot be written
     */
    public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata)
            throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject(METADATA_KEY);
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            if (METADATA_KEY.equals(e.getKey())) {
                throw new FormatException("tensor name '" + METADATA_KEY + "' is reserved: rename the tensor");
            }
            NDArray a = e.getValue();
            ElementType type = ElementType.of(a.getDataType());
            long bytes = a.size() * type.bytes();
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", type.safetensorsName());
            ArrayNode shape = t.putArray("shape");
            for (long d : a.getShape().getShape()) {
                shape.add(d);
            }
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8; // align the data section to 8 bytes, as the reference writer does
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        AtomicFiles.write(file, out -> {
            WritableByteChannel ch = Channels.newChannel(out);
            writeFully(ch, head);
            for (NDArray a : tensors.values()) {
                ByteBuffer data = a.toByteBuffer();
                writeFully(ch, data);
            }
            out.flush();
        });
    }

    // ---------------------------------------------------------------------------------------------

    private static FileChannel open(Path file) throws IOException {
        try {
            return FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "no such file: check the path");
        }
    }

    private static Header readHeader(Path file, FileChannel ch) throws IOException {
        long fileSize = ch.size();
        if (fileSize < 8) {
            throw new FormatException(file + " is not a safetensors file: " + fileSize
                    + " bytes, shorter than the 8-byte header length (truncated or empty file?)");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(file, ch, lenBuf, 0);
        long headerLen = lenBuf.flip().getLong();
        if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES) {
            throw new FormatException(file + " is not a safetensors file: header length " + headerLen
                    + " is out of range (1.." + MAX_HEADER_BYTES + ")");
        }
        if (8 + headerLen > fileSize) {
            throw new FormatException(file + " is truncated: the header needs " + headerLen
                    + " bytes but the file has only " + (fileSize - 8) + " after the length field");
        }
        ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
        readFully(file, ch, hb, 8);
        JsonNode root;
        try {
            root = JSON.readTree(new String(hb.array(), StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new FormatException(file + " has a corrupt safetensors header (invalid JSON: "
                    + e.getOriginalMessage() + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new FormatException(file + " has a corrupt safetensors header: expected a JSON object");
        }
        long dataStart = 8 + headerLen;
        long dataSize = fileSize - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<TensorInfo> infos = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (METADATA_KEY.equals(e.getKey())) {
                e.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            infos.add(parseEntry(file, e.getKey(), e.getValue(), dataSize));
        }
        // The data section must be covered without overlap (the format's own validation rule).
        List<TensorInfo> sorted = new ArrayList<>(infos);
        sorted.sort((a, b) -> Long.compare(a.begin(), b.begin()));
        long cursor = 0;
        for (TensorInfo t : sorted) {
            if (t.begin() < cursor) {
                throw new FormatException(file + " is corrupt: tensor '" + t.name() + "' overlaps the previous tensor"
                        + " (data_offsets start " + t.begin() + " < " + cursor + ")");
            }
            cursor = t.end();
        }
        infos.sort((a, b) -> Long.compare(a.begin(), b.begin()));
        return new Header(Collections.unmodifiableList(infos), Collections.unmodifiableMap(metadata), dataStart);
    }

    private static TensorInfo parseEntry(Path file, String name, JsonNode node, long dataSize) {
        JsonNode dtype = node.get("dtype");
        JsonNode shapeNode = node.get("shape");
        JsonNode offsets = node.get("data_offsets");
        if (dtype == null || shapeNode == null || !shapeNode.isArray() || offsets == null || !offsets.isArray()
                || offsets.size() != 2) {
            throw new FormatException(file + " is corrupt: header entry '" + name
                    + "' needs dtype, shape and data_offsets [begin, end]");
        }
        ElementType type;
        try {
            type = ElementType.fromSafetensors(dtype.asText());
        } catch (FormatException e) {
            throw new FormatException(file + ": tensor '" + name + "': " + e.getMessage(), e);
        }
        long[] shape = new long[shapeNode.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = shapeNode.get(i).asLong(-1);
            if (shape[i] < 0) {
                throw new FormatException(file + " is corrupt: tensor '" + name + "' has a negative dimension");
            }
            numel = Math.multiplyExact(numel, shape[i]);
        }
        long begin = offsets.get(0).asLong(-1);
        long end = offsets.get(1).asLong(-1);
        long expected = numel * type.bytes();
        if (begin < 0 || end < begin || end - begin != expected) {
            throw new FormatException(file + " is corrupt: tensor '" + name + "' " + type + " " + shapeToString(shape)
                    + " needs " + expected + " bytes but data_offsets are [" + begin + ", " + end + "]");
        }
        if (end > dataSize) {
            throw new FormatException(file + " is truncated: tensor '" + name + "' ends at byte " + end
                    + " of the data section, which has only " + dataSize + " bytes");
        }
        return new TensorInfo(name, type, shape, begin, end);
    }

    static String shapeToString(long[] shape) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) {
            sb.append(i == 0 ? "" : ",").append(shape[i]);
        }
        return sb.append(']').toString();
    }

    private static void readFully(Path file, FileChannel ch, ByteBuffer dst, long position) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, pos);
            if (n < 0) {
                throw new FormatException(file + " is truncated at byte " + pos);
            }
            pos += n;
        }
    }

    private static void writeFully(WritableByteChannel ch, ByteBuffer src) throws IOException {
        while (src.hasRemaining()) {
            ch.write(src);
        }
    }
}
