package dev.qncd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@code bench load --prefix/--float-type}: the reader's selection through the real parser. */
class BenchLoadSelectionTest {
    private static final String PLAIN = CliTest.CORE_FIXTURES.resolve("io/torch/plain_zip.pt").toString();

    @Test
    void readsOnlyTheSelectedTensors() {
        CliTest.Result r = CliTest.run("bench", "load", PLAIN, "--prefix", "conv_in.", "--float_type", "float16",
                "--repeat", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("plain_zip.pt"), r.out());
        CliTest.Result none = CliTest.run("bench", "load", PLAIN, "--prefix", "first_stage_model.", "--repeat", "1");
        assertNotEquals(0, none.code());
        assertTrue(none.err().contains("no tensor name starts with [first_stage_model.]"), none.err());
    }

    @Test
    void anUnknownFloatTypeIsAUsageError() {
        CliTest.Result r = CliTest.run("bench", "load", PLAIN, "--float-type", "int8");
        assertEquals(ExitCodes.USAGE, r.code());
        assertTrue(r.err().contains("float16, float32 or float64"), r.err());
    }
}
