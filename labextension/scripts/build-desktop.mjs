// Bundle the desktop page (desktop/desktop.ts + noVNC) and its stylesheet into
// ../jupyter_napari_desktop/server/static/build/, where the server serves them.
//
//   node scripts/build-desktop.mjs            development build, with source maps
//   node scripts/build-desktop.mjs --minify   production build
//
// The output is an ES module targeting ES2022: noVNC uses top-level await. The server puts
// desktop.js into the page itself (handlers.py): a module script loaded by URL is fetched
// in CORS mode, which JupyterHub answers with a login redirect (its XSRF rules), and a
// classic script cannot hold top-level await.
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const outdir = path.resolve(
  root,
  '../jupyter_napari_desktop/server/static/build'
);
const minify = process.argv.includes('--minify');

const novncDir = path.join(root, 'node_modules/@novnc/novnc');
const novnc = JSON.parse(
  await readFile(path.join(novncDir, 'package.json'), 'utf8')
);

await mkdir(outdir, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: ['desktop/desktop.ts', 'desktop/desktop.css'],
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify,
  // 'external': the map is written, not named in the script (the page inlines it).
  sourcemap: minify ? false : 'external',
  legalComments: 'eof',
  banner: {
    js:
      `/*! jupyter-napari-desktop desktop page. Bundles noVNC ${novnc.version} ` +
      '(MPL-2.0, https://github.com/novnc/noVNC; license in noVNC-LICENSE.txt) ' +
      'and pako (MIT). */'
  },
  logLevel: 'info'
});
await copyFile(
  path.join(novncDir, 'LICENSE.txt'),
  path.join(outdir, 'noVNC-LICENSE.txt')
);
