package dev.qncd.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A full ADM evaluator batch (50000 x 32 x 32 x 3 uint8, 153.6 MB) through Npz write and read: exact
 * bytes back, and no per-element work on the path (a loose 30 s bound on a shared 2-core machine; the
 * measured times are logged).
 */
class NpzFullBatchTest {

    private static final Logger LOG = LoggerFactory.getLogger(NpzFullBatchTest.class);

    @TempDir
    Path tmp;

    @Test
    void writesAndReadsAFullSampleBatch() throws Exception {
        Shape shape = new Shape(50000, 32, 32, 3);
        int n = (int) shape.size();
        ByteBuffer pixels = ByteBuffer.allocateDirect(n);
        for (int i = 0; i < n; i += 4096) {
            pixels.put(i, (byte) (i * 7 / 4096));
        }
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray batch = m.create(pixels, shape, DataType.UINT8);
            Path f = tmp.resolve("samples_50000x32x32x3.npz");
            long t0 = System.nanoTime();
            Npz.write(f, Map.of("arr_0", batch));
            long t1 = System.nanoTime();
            NDArray back = Npz.read(f, m).get("arr_0");
            long t2 = System.nanoTime();
            LOG.info("npz 50000x32x32x3 uint8 ({} MB): write {} ms, read {} ms", Files.size(f) / 1_000_000,
                    (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000);
            assertEquals(shape, back.getShape());
            assertArrayEquals(IoFixtures.bytes(batch), IoFixtures.bytes(back));
        }
    }
}
