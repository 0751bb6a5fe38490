package dev.qncd.models.cond;

import static dev.qncd.models.autoencoder.StageFixtures.fixture;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qncd.core.QncdException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tokenizer against the Python re-implementation of HuggingFace's {@code CLIPTokenizer} in
 * scripts/make_ldm_stage_fixtures.py, on a hand-made BPE vocabulary and tricky prompts (empty, over 77
 * tokens, whitespace and case, contractions, punctuation, accents and decomposed accents, CJK, emoji,
 * fullwidth forms, ligatures, curly and C1 quotes, control characters and terminal escapes, special tokens
 * in the text, special-case lower-casing, digits): pieces and the 77 ids must be identical.
 */
class ClipTokenizerTest {
    @TempDir Path tmp;

    private static JsonNode cases() throws Exception {
        return new ObjectMapper().readTree(fixture("prompts.json").toFile());
    }

    private static void assertMatchesFixture(ClipTokenizer tok) throws Exception {
        JsonNode root = cases();
        assertEquals(root.get("vocab_size").asInt(), tok.vocabSize());
        for (JsonNode c : root.get("cases")) {
            String prompt = c.get("prompt").asText();
            List<String> pieces = new ArrayList<>();
            c.get("pieces").forEach(p -> pieces.add(p.asText()));
            assertEquals(pieces, tok.tokenize(prompt), "pieces of " + prompt);
            long[] ids = new long[ClipTokenizer.CONTEXT_LENGTH];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = c.get("ids").get(i).asLong();
            }
            assertArrayEquals(ids, tok.encode(prompt), "ids of " + prompt);
        }
    }

    @Test
    void vocabJsonAndMergesMatchTheReference() throws Exception {
        assertMatchesFixture(ClipTokenizer.load(fixture("tokenizer")));
    }

    @Test
    void openaiGzVocabularyGivesTheSameIds() throws Exception {
        assertMatchesFixture(ClipTokenizer.load(fixture("bpe_tiny.txt.gz")));
    }

    @Test
    void paddingAndTruncationAreFrozenClipEmbeddersOnes() throws Exception {
        ClipTokenizer tok = ClipTokenizer.load(fixture("tokenizer"));
        long[] empty = tok.encode("");
        assertEquals(tok.startId(), empty[0]);
        for (int i = 1; i < 77; i++) {
            assertEquals(tok.endId(), empty[i], "padded with <|endoftext|>");
        }
        long[] longest = tok.encode("cat ".repeat(200));
        assertEquals(77, longest.length);
        assertEquals(tok.endId(), longest[76], "truncated to 75 pieces, then the end token");
        assertEquals(longest[1], longest[75]);
        assertFalse(longest[75] == tok.endId());
    }

    @Test
    void aTokenizerFolderMayNameItsPadToken() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("tok"));
        Files.copy(fixture("tokenizer/vocab.json"), dir.resolve("vocab.json"));
        Files.copy(fixture("tokenizer/merges.txt"), dir.resolve("merges.txt"));
        Files.writeString(dir.resolve("special_tokens_map.json"),
                "{\"pad_token\": {\"content\": \"!\", \"lstrip\": false}}");
        ClipTokenizer tok = ClipTokenizer.load(dir);
        long[] ids = tok.encode("cat");
        assertEquals(0, tok.padId(), "'!' is the first byte character");
        int n = tok.ids("cat").length;
        assertEquals(tok.endId(), ids[n + 1], "the end token still closes the text");
        assertEquals(0, ids[n + 2]);
        assertEquals(0, ids[76]);
        Files.writeString(dir.resolve("special_tokens_map.json"), "{\"pad_token\": \"<|endoftext|>\"}");
        assertEquals(ClipTokenizer.load(fixture("tokenizer")).padId(), ClipTokenizer.load(dir).padId());
    }

    @Test
    void cleanUpFollowsFtfyWhitespaceAndLowerCase() {
        assertEquals("abc 123 fine", ClipTextCleaner.clean("\u3000ＡＢＣ\u00a0１２３ ﬁne\u2029"));
        assertEquals("\"hi\" it's …", ClipTextCleaner.clean("\u201cHi\u201d it\u2019s \u0085"));
        assertEquals("café", ClipTextCleaner.clean("Cafe\u0301"));
        assertEquals("red", ClipTextCleaner.clean("\u001b[31mRED\u001b[0m\u0007"));
        assertTrue(ClipTextCleaner.isPythonSpace(0x1c) && ClipTextCleaner.isPythonSpace(0x85)
                && ClipTextCleaner.isPythonSpace(0xa0) && !ClipTextCleaner.isPythonSpace(0x200b));
    }

    @Test
    void missingFilesAreNamed() throws Exception {
        QncdException e = assertThrows(QncdException.class, () -> ClipTokenizer.load(tmp));
        assertTrue(e.getMessage().contains("vocab.json") && e.getMessage().contains("bpe_simple_vocab_16e6.txt.gz"),
                e.getMessage());
        Path notGz = Files.writeString(tmp.resolve("vocab.txt.gz"), "plain");
        assertTrue(assertThrows(QncdException.class, () -> ClipTokenizer.load(notGz)).getMessage().contains("gzip"));
        Files.writeString(tmp.resolve("vocab.json"), "{\"a</w>\": 0}");
        Files.writeString(tmp.resolve("merges.txt"), "#version: 0.2\n");
        assertTrue(assertThrows(QncdException.class, () -> ClipTokenizer.load(tmp)).getMessage()
                .contains("<|startoftext|>"));
    }
}
