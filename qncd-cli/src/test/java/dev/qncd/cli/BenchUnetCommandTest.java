package dev.qncd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@code bench unet} through the real parser on the tiny parity model (timing, memory and serve modes). */
class BenchUnetCommandTest {
    static final Path DDIM = DdimCommandsTest.DDIM;

    @Test
    void timesComparesAndReportsSamplingMemory() {
        CliTest.Result r = CliTest.run("bench", "unet", "-q", "--config", DDIM.resolve("tiny.yml").toString(),
                "--ckpt", DDIM.resolve("tiny.ckpt").toString(), "--inputs", DDIM.resolve("tiny_forward.npz").toString(),
                "--warmup", "0", "--repeat", "2", "--threads", "1", "--sample-steps", "4");
        assertEquals(0, r.code(), r.err());
        Matcher err = Pattern.compile("max_abs_err_vs_inputs=([0-9.eE+-]+)").matcher(r.out());
        assertTrue(err.find(), r.out());
        assertTrue(Double.parseDouble(err.group(1)) < 1e-4, r.out());
        assertTrue(r.out().contains("threads=1 batch=2"), r.out());
        assertTrue(r.out().matches("(?s).*qncd sampling steps=4 batch=2 .*rss_mib_step1=.*rss_mib_step4=.*"), r.out());
    }

    @Test
    void serveAnswersEveryGoWithOneTiming() {
        InputStream stdin = System.in;
        try {
            System.setIn(new ByteArrayInputStream("go\ngo\nquit\n".getBytes(StandardCharsets.UTF_8)));
            CliTest.Result r = CliTest.run("bench", "unet", "-q", "--serve", "--config", DDIM.resolve("tiny.yml").toString(),
                    "--ckpt", DDIM.resolve("tiny.ckpt").toString(), "--batch", "1");
            assertEquals(0, r.code(), r.err());
            String[] lines = r.out().trim().split("\\R");
            assertEquals(3, lines.length, r.out());
            assertTrue(lines[0].startsWith("ready qncd"), r.out());
            assertTrue(lines[1].matches("ms=[0-9.]+") && lines[2].matches("ms=[0-9.]+"), r.out());
        } finally {
            System.setIn(stdin);
        }
    }

    @Test
    void badNumbersAreUsageErrors() {
        CliTest.Result r = CliTest.run("bench", "unet", "--config", DDIM.resolve("tiny.yml").toString(),
                "--ckpt", DDIM.resolve("tiny.ckpt").toString(), "--repeat", "0");
        assertEquals(ExitCodes.USAGE, r.code(), r.err());
        assertTrue(r.err().contains("--repeat"), r.err());
    }
}
