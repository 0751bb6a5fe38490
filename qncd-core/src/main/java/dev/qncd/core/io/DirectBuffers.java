package dev.qncd.core.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;

/**
 * Bulk reads into direct little-endian buffers, the memory DJL's PyTorch engine wraps without a copy.
 */
final class DirectBuffers {
    /** Heap chunk used to move bytes from a stream into a direct buffer. */
    private static final int CHUNK = 1 << 20;

    private DirectBuffers() {}

    /**
     * @param bytes capacity
     * @return a new direct little-endian buffer
     * @throws IllegalArgumentException when {@code bytes} exceeds what one buffer can hold (2 GiB)
     */
    static ByteBuffer allocate(long bytes) {
        if (bytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("an array of " + bytes + " bytes exceeds the 2 GiB a single buffer holds");
        }
        return ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Reads up to {@code bytes} bytes from a stream.
     *
     * @param in the stream
     * @param bytes how many bytes to read
     * @return a direct buffer of capacity {@code bytes}, position 0, limit = the bytes actually read
     *     (less than {@code bytes} only when the stream ended first)
     * @throws IOException when reading fails
     */
    static ByteBuffer read(InputStream in, long bytes) throws IOException {
        ByteBuffer buf = allocate(bytes);
        byte[] chunk = new byte[(int) Math.min(CHUNK, Math.max(1, bytes))];
        while (buf.hasRemaining()) {
            int n = in.readNBytes(chunk, 0, Math.min(chunk.length, buf.remaining()));
            if (n <= 0) {
                break;
            }
            buf.put(chunk, 0, n);
        }
        return buf.flip();
    }

    /**
     * Reads up to {@code bytes} bytes from a file channel at its current position.
     *
     * @param ch the channel
     * @param bytes how many bytes to read
     * @return a direct buffer of capacity {@code bytes}, position 0, limit = the bytes actually read
     * @throws IOException when reading fails
     */
    static ByteBuffer read(FileChannel ch, long bytes) throws IOException {
        ByteBuffer buf = allocate(bytes);
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                break;
            }
        }
        return buf.flip();
    }
}
