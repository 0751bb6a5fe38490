package dev.qncd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.io.Npz;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code qncd forward} and {@code qncd bench unet} on the tiny LDM / SD parity fixtures of qncd-models, through the real parser. */
class LdmForwardCommandTest {
    static final Path LDM = Path.of("../qncd-models/src/test/resources/fixtures/ldm");

    @TempDir Path tmp;

    @Test
    void forwardWithContextAndWithClassLabels() throws Exception {
        for (String[] c : new String[][] {{"tiny_sd", "tiny_sd.ckpt"}, {"tiny_class", "tiny_class.ckpt"}}) {
            Path out = tmp.resolve(c[0] + "_eps.npz");
            CliTest.Result r = CliTest.run("forward", "--config", LDM.resolve(c[0] + ".yaml").toString(),
                    "--ckpt", LDM.resolve(c[1]).toString(), "--inputs", LDM.resolve(c[0] + "_forward.npz").toString(),
                    "--out", out.toString());
            assertEquals(0, r.code(), r.err());
            try (NDManager m = NDManager.newBaseManager()) {
                NDArray eps = Npz.read(out, m).get("eps");
                NDArray ref = Npz.read(LDM.resolve(c[0] + "_forward.npz"), m).get("eps");
                // as LdmUNetParityTest: 1e-4 of the output scale (float32 summation order)
                assertTrue(eps.sub(ref).abs().max().getFloat() <= 1e-4f * ref.abs().max().getFloat(), c[0]);
            }
        }
    }

    @Test
    void missingConditioningIsAClearUsageError() throws Exception {
        Path in = tmp.resolve("in.npz");
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> io = new LinkedHashMap<>(Npz.read(LDM.resolve("tiny_sd_forward.npz"), m));
            io.remove("context");
            Npz.write(in, io, false);
        }
        Path out = tmp.resolve("eps.npz");
        CliTest.Result r = CliTest.run("forward", "--config", LDM.resolve("tiny_sd.yaml").toString(),
                "--ckpt", LDM.resolve("tiny_sd.ckpt").toString(), "--inputs", in.toString(), "--out", out.toString());
        assertEquals(ExitCodes.USAGE, r.code());
        assertTrue(r.err().contains("has no array 'context'") && r.err().contains("cross-attends"), r.err());
        assertFalse(Files.exists(out), "no output on failure");
        CliTest.Result wrong = CliTest.run("forward", "--config", LDM.resolve("tiny_class.yaml").toString(),
                "--ckpt", LDM.resolve("tiny_sd.ckpt").toString(), "--inputs", LDM.resolve("tiny_class_forward.npz").toString(),
                "--out", out.toString());
        assertEquals(ExitCodes.USAGE, wrong.code());
        assertTrue(wrong.err().contains("does not fit the LDM UNet") && wrong.err().contains("missing keys"), wrong.err());
        assertFalse(Files.exists(out), "no output on failure");
    }

    @Test
    void benchUnetTimesAndServesTheLdmUNet() {
        CliTest.Result r = CliTest.run("bench", "unet", "-q", "--config", LDM.resolve("tiny_class.yaml").toString(),
                "--ckpt", LDM.resolve("tiny_class.ckpt").toString(), "--inputs", LDM.resolve("tiny_class_forward.npz").toString(),
                "--warmup", "0", "--repeat", "1", "--threads", "1");
        assertEquals(0, r.code(), r.err());
        Matcher err = Pattern.compile("max_abs_err_vs_inputs=([0-9.eE+-]+)").matcher(r.out());
        assertTrue(err.find() && Double.parseDouble(err.group(1)) < 1e-4, r.out());
        InputStream stdin = System.in;
        try {
            System.setIn(new ByteArrayInputStream("go\nquit\n".getBytes(StandardCharsets.UTF_8)));
            CliTest.Result s = CliTest.run("bench", "unet", "-q", "--serve", "--config", LDM.resolve("tiny_sd.yaml").toString(),
                    "--ckpt", LDM.resolve("tiny_sd.ckpt").toString(), "--inputs", LDM.resolve("tiny_sd_forward.npz").toString());
            assertEquals(0, s.code(), s.err());
            String[] lines = s.out().trim().split("\\R");
            assertEquals(2, lines.length, s.out());
            assertTrue(lines[0].startsWith("ready qncd") && lines[1].matches("ms=[0-9.]+"), s.out());
        } finally {
            System.setIn(stdin);
        }
        CliTest.Result noInputs = CliTest.run("bench", "unet", "--config", LDM.resolve("tiny_sd.yaml").toString(),
                "--ckpt", LDM.resolve("tiny_sd.ckpt").toString());
        assertEquals(ExitCodes.USAGE, noInputs.code());
        assertTrue(noInputs.err().contains("pass --inputs"), noInputs.err());
    }
}
