"""The dashboard: one operations page over ``/dashboard/api/*``.

The page's structure is what later work builds on (operator controls: pause
actions; self-service: a team admin's view of its own teams), so it is fixed here:

- **One page**, ``/dashboard``, with a **scope** (``org`` or ``team:NAME``) and a
  **time range** (``month`` to date, ``7d``, ``30d``, ``custom`` with ``from``/``to``)
  in its URL (``?scope=team:chatbot&range=7d``); every range is compared with the
  range of the same length just before it (week-over-week for ``7d``).
- **Sections**, each a ``<section id=…>`` fed by one endpoint:
  ``overview`` (spend vs budget with 50/80/95 % markers and a legend, the
  projection and run-out date; ``/dashboard/api/overview``), ``teams`` (requests
  and refusals by reason per team; ``…/teams``), ``keys`` (``tg_`` keys: spend,
  requests, refusals, last used; ``idle``/``expiring``/``in-grace`` flags; an
  ``td.actions`` cell per row with the key's actions *rotate*, *revoke*, *pause* and a
  *create key* form, each shown to whoever may do it; ``…/keys``), ``pauses`` (the
  pauses of the scope with *resume* per row, and a form that pauses a team, TEAM/ENV or
  key; ``…/pauses``), ``models`` (cost per model per day; ``…/models``),
  ``attribution`` (top end users and top values of one tag by cost, per team;
  ``…/attribution``), ``upstream``
  (Groq keys, org scope only; ``/admin/upstream``) and ``requests`` (the request
  log with team/key/model/status/reason/end-user/tag filters, paged from the store, CSV
  export; ``…/requests``).
- **One access check**: every ``/dashboard/api/*`` call is answered for a
  :class:`~teamgate.admin.access.Principal` (``teamgate.admin.app.AdminApp.principal``),
  which must ``can("read", scope)``; answers hold only its ``visible_teams``. A
  team admin's session needs a new ``Principal`` constructor and nothing else.
- **Writes** (pause, resume, key create/rotate/revoke) are POSTs to the admin API
  with the session cookie and its CSRF token in ``x-csrf-token`` (``static/actions.js``):
  the admin API's handlers, audit and role check answer them; without the token a
  session admits only reads.

Modules: :mod:`~teamgate.dashboard.pages` (login, the page shell, static assets),
:mod:`~teamgate.dashboard.api` (the endpoints), :mod:`~teamgate.dashboard.view`
(scope and range), :mod:`~teamgate.dashboard.projection` (month-end projection),
:mod:`~teamgate.dashboard.sessions` (sessions shared through the store, cookies),
single sign-on (:mod:`~teamgate.dashboard.sso_routes`, :mod:`~teamgate.dashboard.oidc`,
:mod:`~teamgate.dashboard.sso_roles`; docs/sso.md), ``static/`` (vanilla JS and CSS, no
CDN, no build step, a strict Content-Security-Policy), and the older one-shot
``/admin/overview`` (:mod:`~teamgate.dashboard.overview`).
"""
