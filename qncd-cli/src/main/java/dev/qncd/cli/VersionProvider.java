package dev.qncd.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine;

/** Prints the qncd version and the pinned DJL / PyTorch versions (filtered in at build time). */
public final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() throws IOException {
        Properties p = new Properties();
        try (InputStream in = VersionProvider.class.getResourceAsStream("/qncd-version.properties")) {
            if (in != null) {
                p.load(in);
            }
        }
        return new String[] {
            "qncd " + p.getProperty("version", "unknown"),
            "DJL " + p.getProperty("djl", "unknown") + ", PyTorch " + p.getProperty("pytorch", "unknown")
                    + ", Java " + System.getProperty("java.version")
        };
    }
}
