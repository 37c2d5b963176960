# Shared by the bench scripts (source it after setting CARGO_TARGET_DIR and PROFILE).

# Builds imgpipe with the PROFILE profile (release or dev) and sets BIN to its binary.
build_imgpipe() {
    if [[ "$PROFILE" == release ]]; then
        cargo build --release --quiet -p imgpipe --bins
        BIN="$CARGO_TARGET_DIR/release/imgpipe"
    else
        cargo build --quiet -p imgpipe --bins
        BIN="$CARGO_TARGET_DIR/debug/imgpipe"
    fi
}
