package dev.qncd.core;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

/** Paths of the committed test fixtures under {@code src/test/resources/fixtures}. */
public final class TestFixtures {
    private TestFixtures() {}

    /**
     * @param relative path below {@code fixtures/}, e.g. {@code torch/sd_zip.ckpt}
     * @return the file
     * @throws IllegalStateException when the fixture is missing (regenerate it with the scripts/ named in the test)
     */
    public static Path path(String relative) {
        URL url = TestFixtures.class.getResource("/fixtures/" + relative);
        if (url == null) {
            throw new IllegalStateException("missing test fixture fixtures/" + relative);
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
