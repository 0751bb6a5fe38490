package dev.qncd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.io.Npz;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code qncd evaluate} with the real parser on feature files made from qncd-eval's scipy fixtures. */
class EvaluateCommandTest {
    static final Path EVAL_FIXTURES = Path.of("../qncd-eval/src/test/resources/fixtures");

    @TempDir Path tmp;

    @Test
    void fidFromFeatureFilesMatchesScipy() throws Exception {
        double expected;
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> f = Npz.read(EVAL_FIXTURES.resolve("fid_well.npz"), m);
            expected = f.get("fid").getDouble();
            Npz.write(tmp.resolve("ref.npz"), Map.of("pool", f.get("b")), false);
            Npz.write(tmp.resolve("samples.npz"), Map.of("pool", f.get("a")), false);
        }
        Path json = tmp.resolve("out/report.json");
        CliTest.Result r = CliTest.run("evaluate", tmp.resolve("ref.npz").toString(),
                tmp.resolve("samples.npz").toString(), "--metrics", "fid,pr", "--batch_size", "8", "--out", json.toString());
        assertEquals(0, r.code(), r.err());
        String line = r.out().lines().filter(l -> l.startsWith("FID: ")).findFirst().orElseThrow();
        double fid = Double.parseDouble(line.substring(5));
        assertTrue(Math.abs(fid - expected) / expected < 1e-6, fid + " vs " + expected);
        assertTrue(r.out().contains("Inception Score: n/a") && r.out().contains("Precision: 0."), r.out());
        String doc = Files.readString(json);
        assertTrue(doc.contains("\"fid\"") && doc.contains("\"recall\""), doc);
    }

    @Test
    void errorsMapToExitCodes() throws Exception {
        Files.writeString(tmp.resolve("bad.npz"), "not a zip");
        assertEquals(ExitCodes.BAD_FILE, CliTest.run("evaluate", tmp.resolve("bad.npz").toString(),
                tmp.resolve("bad.npz").toString()).code());
        assertEquals(ExitCodes.IO, CliTest.run("evaluate", tmp.resolve("none.npz").toString(),
                tmp.resolve("none.npz").toString()).code());
        Files.createDirectories(tmp.resolve("empty"));
        CliTest.Result r = CliTest.run("evaluate", tmp.resolve("empty").toString(), tmp.resolve("empty").toString());
        assertEquals(ExitCodes.USAGE, r.code());
        assertTrue(r.err().contains("no .png"), r.err());
        assertEquals(ExitCodes.USAGE, CliTest.run("evaluate", "a", "b", "--metrics", "fid,nope").code());
    }
}
