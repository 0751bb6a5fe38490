/** Small shared utilities: atomic file writes, progress logging with ETA. */
package dev.qncd.core.util;
