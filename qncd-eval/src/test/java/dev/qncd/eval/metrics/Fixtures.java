package dev.qncd.eval.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.io.Npz;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/** The numpy/scipy fixtures of scripts/make_eval_fixtures.py. */
final class Fixtures {
    static final Path DIR = Path.of("src/test/resources/fixtures");

    private Fixtures() {}

    static Map<String, NDArray> read(String name, NDManager manager) throws IOException {
        return Npz.read(DIR.resolve(name), manager);
    }
}
