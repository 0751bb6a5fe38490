package dev.qncd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sample-ddim --sample_reverse ...} through the real parser on the tiny full-precision fixture model. */
class NoiseEstimationOptionsTest {
    static final Path DDIM = DdimCommandsTest.DDIM;

    @TempDir Path tmp;

    private CliTest.Result sample(Path dir, String... extra) {
        String[] base = {"sample-ddim", "--config", DDIM.resolve("tiny.yml").toString(),
            "--ckpt", DDIM.resolve("tiny.ckpt").toString(), "--start-code", DDIM.resolve("tiny_start_code.npy").toString(),
            "--timesteps", "10", "--batch-size", "1", "-l", dir.toString()};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return CliTest.run(args);
    }

    @Test
    void estimatesGoIntoTheRunReport() throws Exception {
        Path dir = tmp.resolve("rev");
        CliTest.Result r = sample(dir, "--sample_reverse", "--reverse_interval", "3");
        assertEquals(0, r.code(), r.err());
        JsonNode report = new ObjectMapper().readTree(dir.resolve("run.json").toFile());
        assertEquals(3, report.get("settings").get("noiseEstimation").get("reverse_interval").asInt());
        JsonNode ne = report.get("noise_estimation");
        assertEquals("[2,5,8]", ne.get("steps_per_batch").toString(), "(n − 2) mod 3 = 1 at n = 3, 6, 9");
        assertEquals(6, ne.get("extra_model_evaluations").asInt(), "2 batches x 3 estimates");
        JsonNode est = ne.get("estimates");
        assertEquals(6, est.size());
        for (int i = 0; i < est.size(); i++) {
            JsonNode e = est.get(i);
            assertEquals(i / 3, e.get("batch").asInt());
            assertEquals(new int[] {2, 5, 8}[i % 3], e.get("step").asInt());
            assertEquals(new int[] {700, 400, 100}[i % 3], e.get("t").asInt());
            assertTrue(Double.isFinite(e.get("mean").asDouble()) && e.get("std").asDouble() > 0, e.toString());
        }
        assertTrue(Files.exists(dir.resolve("img/1.png")));
    }

    @Test
    void kebabCaseAndOptionsOnDdpm() throws Exception {
        Path dir = tmp.resolve("kebab");
        CliTest.Result r = sample(dir, "--sample-reverse", "--reverse-interval", "4", "--reverse-variance",
                "--reverse-reset", "--sample-type", "ddpm_noisy");
        assertEquals(0, r.code(), r.err());
        JsonNode ne = new ObjectMapper().readTree(dir.resolve("run.json").toFile()).get("noise_estimation");
        assertTrue(ne.get("config").get("variance_correction").asBoolean());
        assertTrue(ne.get("config").get("reset_per_batch").asBoolean());
        assertEquals("[3,7]", ne.get("steps_per_batch").toString());
    }

    @Test
    void withoutTheFlagNothingChanges() throws Exception {
        Path dir = tmp.resolve("plain");
        assertEquals(0, sample(dir).code());
        JsonNode report = new ObjectMapper().readTree(dir.resolve("run.json").toFile());
        assertFalse(report.has("noise_estimation"));
        assertTrue(report.get("settings").get("noiseEstimation").isNull());
    }

    @Test
    void badFlagsGiveClearErrors() {
        CliTest.Result zero = sample(tmp.resolve("z"), "--sample_reverse", "--reverse_interval", "0");
        assertEquals(ExitCodes.USAGE, zero.code());
        assertTrue(zero.err().contains("--reverse_interval must be at least 1"), zero.err());
        CliTest.Result alone = sample(tmp.resolve("a"), "--reverse_interval", "5");
        assertEquals(ExitCodes.USAGE, alone.code());
        assertTrue(alone.err().contains("add --sample_reverse"), alone.err());
        assertFalse(Files.exists(tmp.resolve("a/run.json")), "no output on failure");
        CliTest.Result notInt = sample(tmp.resolve("n"), "--sample_reverse", "--reverse_interval", "ten");
        assertEquals(ExitCodes.USAGE, notInt.code());
    }
}
