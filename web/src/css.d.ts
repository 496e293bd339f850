// esbuild bundles the CSS that main.ts imports.
declare module "*.css";
