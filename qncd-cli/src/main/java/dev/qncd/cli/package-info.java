/**
 * The {@code qncd} command line. Commands are thin: they parse flags (picocli), build a config record
 * and call the library. Shared options are mixins ({@link dev.qncd.cli.CommonOptions}); exceptions map
 * to exit codes in one place ({@link dev.qncd.cli.ExitCodes}).
 */
package dev.qncd.cli;
