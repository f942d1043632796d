// The registration form: drafts kept, the session checked before saving.
"use strict";
