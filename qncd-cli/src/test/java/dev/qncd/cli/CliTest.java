package dev.qncd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.qncd.core.io.Checkpoints;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The real parser, in-process: help, version, exit codes, inspect and convert on committed fixtures. */
class CliTest {
    /** Fixtures of qncd-core, read in place (surefire runs in the module directory). */
    static final Path CORE_FIXTURES = Path.of("../qncd-core/src/test/resources/fixtures");

    @TempDir Path tmp;

    /** Exit code and captured output of one in-process run. */
    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        System.setProperty("ai.djl.offline", "true");
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Result(code, out.toString(), err.toString());
    }

    @Test
    void helpListsTheCommands() {
        Result r = run("--help");
        assertEquals(0, r.code());
        for (String c : new String[] {"inspect", "convert", "bench", "help"}) {
            assertTrue(r.out().contains(c), "help lists " + c + ":\n" + r.out());
        }
    }

    @Test
    void versionNamesDjlAndPytorch() {
        Result r = run("--version");
        assertEquals(0, r.code());
        assertTrue(r.out().startsWith("qncd "), r.out());
        assertTrue(r.out().contains("DJL 0.36.0") && r.out().contains("PyTorch 2.7.1"), r.out());
    }

    @Test
    void unknownFlagIsAUsageError() {
        Result r = run("inspect", "--no-such-flag", "x");
        assertEquals(ExitCodes.USAGE, r.code());
        assertTrue(r.err().contains("Unknown option: '--no-such-flag'"), r.err());
    }

    @Test
    void inspectListsSafetensors() {
        Result r = run("inspect", CORE_FIXTURES.resolve("safetensors/all_dtypes.safetensors").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("SAFETENSORS"), r.out());
        assertTrue(r.out().contains("z.f32") && r.out().contains("[2, 3, 4]"), r.out());
        assertTrue(r.out().contains("8 tensors, 169 elements"), r.out());
        assertTrue(r.out().contains("metadata note = qncd fixture"), r.out());
    }

    @Test
    void inspectJsonWithFilter() {
        Result r = run("inspect", "--json", "--filter", "?.i*",
                CORE_FIXTURES.resolve("safetensors/all_dtypes.safetensors").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\"c.i64\"") && r.out().contains("\"d.i32\""), r.out());
        assertFalse(r.out().contains("z.f32"), r.out());
    }

    @Test
    void missingFileIsAnIoError() {
        Result r = run("inspect", tmp.resolve("nope.ckpt").toString());
        assertEquals(ExitCodes.IO, r.code());
        assertTrue(r.err().contains("no such file") && r.err().contains("nope.ckpt"), r.err());
    }

    @Test
    void corruptFileIsABadFile() throws Exception {
        Result r = run("inspect", CORE_FIXTURES.resolve("safetensors/truncated.safetensors").toString());
        assertEquals(ExitCodes.BAD_FILE, r.code());
        assertTrue(r.err().contains("truncated"), r.err());
        Path junk = Files.writeString(tmp.resolve("junk.bin"), "not a checkpoint at all");
        Result j = run("inspect", junk.toString());
        assertEquals(ExitCodes.BAD_FILE, j.code());
        assertTrue(j.err().contains("unrecognised file format"), j.err());
    }

    @Test
    void convertToSafetensorsAndNpzKeepsValues() throws Exception {
        Path src = CORE_FIXTURES.resolve("safetensors/all_dtypes.safetensors");
        Path st = tmp.resolve("half.safetensors");
        assertEquals(0, run("convert", src.toString(), st.toString(), "--dtype", "float16").code());
        Path npz = tmp.resolve("all.npz");
        assertEquals(0, run("convert", src.toString(), npz.toString()).code());
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> a = Checkpoints.read(src, m);
            Map<String, NDArray> h = Checkpoints.read(st, m);
            Map<String, NDArray> n = Checkpoints.read(npz, m);
            assertEquals(DataType.FLOAT16, h.get("z.f32").getDataType());
            assertEquals(DataType.INT64, h.get("c.i64").getDataType(), "integers are not cast");
            // exact: the fixture values (i/2 - 3) are representable in float16
            assertTrue(a.get("z.f32").contentEquals(h.get("z.f32").toType(DataType.FLOAT32, false)));
            for (String k : a.keySet()) {
                assertTrue(a.get(k).contentEquals(n.get(k)), k);
            }
        }
        Result bad = run("convert", src.toString(), tmp.resolve("out.bin").toString());
        assertEquals(ExitCodes.BAD_FILE, bad.code());
        assertTrue(bad.err().contains(".safetensors or .npz"), bad.err());
        assertFalse(Files.exists(tmp.resolve("out.bin")));
    }
}
