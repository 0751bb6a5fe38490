package dev.qncd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qncd.core.io.Npz;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** forward and sample-ddim end to end through the real parser, on the tiny parity fixtures of qncd-models. */
class DdimCommandsTest {
    static final Path DDIM = Path.of("../qncd-models/src/test/resources/fixtures/ddim");

    @TempDir Path tmp;

    @Test
    void forwardWritesTheOriginalsEps() throws Exception {
        Path out = tmp.resolve("eps.npz");
        CliTest.Result r = CliTest.run("forward", "--config", DDIM.resolve("tiny_pool.yml").toString(),
                "--ckpt", DDIM.resolve("tiny_pool_legacy.ckpt").toString(),
                "--inputs", DDIM.resolve("tiny_pool_forward.npz").toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray eps = Npz.read(out, m).get("eps");
            NDArray ref = Npz.read(DDIM.resolve("tiny_pool_forward.npz"), m).get("eps");
            // same tolerance as DdimUNetParityTest: 1e-4 of the output scale (float32 summation order)
            assertTrue(eps.sub(ref).abs().max().getFloat() <= 1e-4f * ref.abs().max().getFloat());
        }
    }

    @Test
    void sampleDdimWritesImagesNpzGridAndReport() throws Exception {
        Path dir = tmp.resolve("run");
        CliTest.Result r = CliTest.run("sample-ddim", "--config", DDIM.resolve("tiny.yml").toString(),
                "--ckpt", DDIM.resolve("tiny.ckpt").toString(), "--start-code", DDIM.resolve("tiny_start_code.npy").toString(),
                "--timesteps", "10", "--batch-size", "1", "--savez", dir.resolve("s.npz").toString(), "-l", dir.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.exists(dir.resolve("img/0.png")) && Files.exists(dir.resolve("img/1.png")));
        assertTrue(Files.exists(dir.resolve("grid.png")));
        JsonNode report = new ObjectMapper().readTree(dir.resolve("run.json").toFile());
        assertEquals(2, report.get("images").asInt());
        assertEquals(10, report.get("steps").asInt());
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> z = Npz.read(dir.resolve("s.npz"), m);
            byte[] img = z.get("arr_0").toByteArray();
            byte[] exp = Npz.read(DDIM.resolve("tiny_ddim10.npz"), m).get("arr_0").toByteArray();
            assertEquals(exp.length, img.length);
            for (int i = 0; i < img.length; i++) {
                assertTrue(Math.abs((img[i] & 0xff) - (exp[i] & 0xff)) <= 1, "pixel " + i); // rounding of float ties
            }
        }
    }

    @Test
    void badInputsGiveClearErrors() throws Exception {
        CliTest.Result wrongCkpt = CliTest.run("forward", "--config", DDIM.resolve("tiny.yml").toString(),
                "--ckpt", DDIM.resolve("tiny_pool.ckpt").toString(),
                "--inputs", DDIM.resolve("tiny_forward.npz").toString(), "--out", tmp.resolve("e.npz").toString());
        assertEquals(ExitCodes.USAGE, wrongCkpt.code());
        assertTrue(wrongCkpt.err().contains("does not fit the DDIM UNet") && wrongCkpt.err().contains("missing keys"),
                wrongCkpt.err());
        assertTrue(!Files.exists(tmp.resolve("e.npz")), "no output on failure");
        CliTest.Result badFlag = CliTest.run("sample-ddim", "--config", "x.yml", "--ckpt", "y", "--skip_type", "cubic");
        assertEquals(ExitCodes.USAGE, badFlag.code());
        CliTest.Result noConfig = CliTest.run("sample-ddim", "--config", tmp.resolve("none.yml").toString(), "--ckpt", "y");
        assertEquals(ExitCodes.IO, noConfig.code(), noConfig.err());
    }
}
