package dev.qncd.core.io;

import static dev.qncd.core.io.IoFixtures.fixture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDManager;
import dev.qncd.core.FormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every prefix and many single-byte corruptions of real fixtures: a reader either succeeds or throws
 * {@link FormatException} naming the file — never an NPE, an index error, a raw EOFException or an
 * out-of-memory from a corrupt length. No numeric tolerance involved.
 */
class CorruptInputTest {

    @TempDir
    Path tmp;

    private void assertOnlyFormatExceptions(String fixture, int step, boolean flip, BiConsumer<Path, NDManager> reader)
            throws Exception {
        byte[] good = Files.readAllBytes(fixture(fixture));
        Path file = tmp.resolve("damaged-" + fixture.replace('/', '_'));
        int failures = 0;
        int cases = 0;
        for (int i = 0; i < good.length; i += step) {
            byte[] bad;
            if (flip) {
                bad = good.clone();
                bad[i] ^= (byte) 0xA5;
            } else {
                bad = Arrays.copyOf(good, i);
            }
            Files.write(file, bad);
            cases++;
            try (NDManager m = NDManager.newBaseManager()) {
                reader.accept(file, m);
                if (!flip) {
                    fail("a " + i + "-byte prefix of " + fixture + " was read without error");
                }
            } catch (FormatException e) {
                failures++;
                // damaged bytes may also spell a global outside the whitelist: UnsafeCheckpointException
                assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
            } catch (RuntimeException e) {
                throw new AssertionError((flip ? "flipping byte " : "truncating to ") + i + " of " + fixture
                        + " threw " + e, e);
            }
        }
        if (!flip) {
            assertEquals(cases, failures);
        }
    }

    private static void readStateDict(Path f, NDManager m) {
        TorchCheckpointReader.readStateDict(f, m, null);
    }

    @Test
    void truncatedLegacyCheckpoints() throws Exception {
        assertOnlyFormatExceptions("torch/views_legacy.pt", 1, false, CorruptInputTest::readStateDict);
    }

    @Test
    void truncatedZipCheckpoints() throws Exception {
        assertOnlyFormatExceptions("torch/views_zip.pt", 3, false, CorruptInputTest::readStateDict);
    }

    @Test
    void corruptedLegacyCheckpoints() throws Exception {
        assertOnlyFormatExceptions("torch/dtypes_legacy.pt", 1, true, CorruptInputTest::readStateDict);
    }

    @Test
    void corruptedZipCheckpoints() throws Exception {
        assertOnlyFormatExceptions("torch/views_zip.pt", 2, true, CorruptInputTest::readStateDict);
    }

    @Test
    void truncatedAndCorruptedNumpyFiles() throws Exception {
        assertOnlyFormatExceptions("npy/fortran_3d.npy", 1, false, Npy::read);
        assertOnlyFormatExceptions("npy/fortran_3d.npy", 1, true, Npy::read);
        assertOnlyFormatExceptions("npy/stats_compressed.npz", 1, false, Npz::read);
        assertOnlyFormatExceptions("npy/batch_nhwc.npz", 3, true, Npz::read);
    }
}
