// sharp anchor for bench/run.sh: the same thumbnails as imgpipe (1024 and 256 px, JPEG q80),
// the way sharp does them best: one shrink-on-load decode, .rotate() from EXIF, 1024 px, then
// 256 px from those pixels; one libvips thread; no operation cache (every pass really works).
// Usage: node sharp_thumb.js [--passes N] [--warmup N] [--out DIR] FILE...
// Prints one JSON line per file: {"file": ..., "ms": [per-pass milliseconds]}.
'use strict';
const fs = require('fs');
const path = require('path');
const sharp = require('sharp');

sharp.concurrency(1);
sharp.cache(false);

function parse(argv) {
  const args = { passes: 1, warmup: 0, out: null, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--passes') args.passes = Number(argv[++i]);
    else if (a === '--warmup') args.warmup = Number(argv[++i]);
    else if (a === '--out') args.out = argv[++i];
    else args.files.push(a);
  }
  return args;
}

async function thumbnails(input) {
  const { data, info } = await sharp(input)
    .rotate()
    .resize(1024, 1024, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  const big = await sharp(data, raw).jpeg({ quality: 80 }).toBuffer();
  const small = await sharp(data, raw)
    .resize(256, 256, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
    .jpeg({ quality: 80 })
    .toBuffer();
  return [[1024, big], [256, small]];
}

async function main() {
  const args = parse(process.argv.slice(2));
  for (const file of args.files) {
    const input = fs.readFileSync(file);
    const ms = [];
    for (let pass = 0; pass < args.warmup + args.passes; pass++) {
      const start = process.hrtime.bigint();
      const thumbs = await thumbnails(input);
      const took = Number(process.hrtime.bigint() - start) / 1e6;
      if (pass >= args.warmup) ms.push(took);
      if (args.out && pass === args.warmup + args.passes - 1) {
        const stem = path.parse(file).name;
        for (const [size, jpeg] of thumbs) fs.writeFileSync(path.join(args.out, `${stem}_${size}.jpg`), jpeg);
      }
    }
    console.log(JSON.stringify({ file, ms }));
  }
}

main().catch((e) => { console.error(`sharp_thumb: ${e.message}`); process.exit(1); });
