package dev.qncd.core.io;

import static dev.qncd.core.io.IoFixtures.fixture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.FormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Format detection by content and the one reading entry point. */
class CheckpointsTest {
    @TempDir Path tmp;

    @Test
    void detectsEveryFormatByContent() throws IOException {
        assertEquals(CheckpointFormat.TORCH_ZIP, CheckpointFormat.detect(fixture("torch/plain_zip.pt")));
        assertEquals(CheckpointFormat.TORCH_LEGACY, CheckpointFormat.detect(fixture("torch/plain_legacy.pt")));
        assertEquals(CheckpointFormat.NPZ, CheckpointFormat.detect(fixture("npy/batch_nhwc.npz")));
        assertEquals(CheckpointFormat.NPY, CheckpointFormat.detect(fixture("npy/dtype_f4.npy")));
        // This header length (0x0280) begins with the bytes 80 02, like a protocol-2 pickle.
        assertEquals(CheckpointFormat.SAFETENSORS,
                CheckpointFormat.detect(dev.qncd.core.TestFixtures.path("safetensors/all_dtypes.safetensors")));
        Path text = Files.writeString(tmp.resolve("notes.ckpt"), "not a checkpoint");
        assertTrue(assertThrows(FormatException.class, () -> CheckpointFormat.detect(text)).getMessage()
                .contains("unrecognised file format"));
    }

    @Test
    void readsEachFormatThroughOneEntryPoint() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> zip = Checkpoints.read(fixture("torch/plain_zip.pt"), m);
            Map<String, NDArray> legacy = Checkpoints.read(fixture("torch/plain_legacy.pt"), m);
            assertEquals(List.copyOf(zip.keySet()), List.copyOf(legacy.keySet()));
            for (String k : zip.keySet()) {
                assertTrue(zip.get(k).contentEquals(legacy.get(k)), k);
            }
            Path st = tmp.resolve("plain.safetensors");
            Checkpoints.write(st, zip, Map.of("from", "plain_zip.pt"));
            Map<String, NDArray> back = Checkpoints.read(st, m);
            for (String k : zip.keySet()) {
                assertTrue(zip.get(k).contentEquals(back.get(k)), k);
            }
            assertEquals(List.of("dtype_f4"), List.copyOf(Checkpoints.read(fixture("npy/dtype_f4.npy"), m).keySet()));
            assertThrows(FormatException.class, () -> Checkpoints.read(fixture("npy/batch_nhwc.npz"), m, "state_dict"));
            assertThrows(NoSuchFileException.class, () -> Checkpoints.read(tmp.resolve("missing.ckpt"), m));
            assertThrows(FormatException.class, () -> Checkpoints.write(tmp.resolve("x.bin"), zip, Map.of()));
        }
    }
}
