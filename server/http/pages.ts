// HTML pages: runbook index, runbook overview, step pages.
import express, { type Router } from 'express';
import type { AppContext } from './context.ts';
import type { Views } from './render.ts';

export function pagesRouter(ctx: AppContext, views: Views): Router {
  const r = express.Router();
  r.get('/', (_req, res) => {
    const entries = ctx.catalog().entries;
    res.type('html').send(views.render('index', { entries }));
  });
  return r;
}
