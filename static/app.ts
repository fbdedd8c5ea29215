// Browser entry point (bundled by esbuild at server start).
import './app.css';
