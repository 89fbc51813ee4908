/* The grammar of the model format (and of q8c's own dumps).  A pure
   parser with locations; the actions hand whole statements to parse.c,
   which builds the graph.  The first error ends the parse (error_at). */
%define api.pure full
%locations
%define parse.error custom
%param {yyscan_t scanner}
%parse-param {P *p}

%code requires {
#include "frontend/frontend.h"
}

%code provides {
Loc lex_loc(struct Lex *lx, const YYLTYPE *l);
}

%code {
#include "lexer.h"

#include <limits.h>
#include <string.h>

/* the bison stack, if it ever grows, comes from the arena too */
#define YYMALLOC(n) alloc(n)
#define YYFREE(q) ((void)(q))

#define L(x) lex_loc(p_lex(p), &(x))

static void yyerror(YYLTYPE *l, yyscan_t scanner, P *p, const char *msg)
{
	(void)scanner;
	error_at(lex_loc(p_lex(p), l), "%s", msg);
}

static void push_num(Nums *ns, double v, Loc l)
{
	if (ns->n >= INT_MAX / 2)
		error_at(l, "too many numbers in one list");
	ns->v = vgrow(ns->v, (size_t)ns->n, sizeof *ns->v);
	ns->loc = vgrow(ns->loc, (size_t)ns->n, sizeof *ns->loc);
	ns->v[ns->n] = v;
	ns->loc[ns->n++] = l;
}

static Item item(ItemKind k, char *name, Loc l)
{
	return (Item){.kind = k, .name = name, .loc = l, .vloc = l};
}
}

%union {
	char *str;
	double num;
	Nums nums;
	Item item;
	Items items;
	TypeSpec *type;
	Init *init;
}

%token MODEL "'model'" INPUT "'input'" OUTPUT "'output'" CONST "'const'"
%token <str> IDENT "identifier" VNAME "value name" CNAME "constant name" STRING "string"
%token <num> NUMBER "number"

%type <str> name
%type <nums> dims numlist
%type <item> value item arg
%type <items> items brace args arglist
%type <type> type annot
%type <init> init

%%

file:	%empty
	| file stmt
	;

stmt:	MODEL name ';'			{ p_model(p, $2, L(@2)); }
	| INPUT VNAME ':' type ';'	{ p_input(p, $2, L(@2), $4); }
	| CONST CNAME ':' type '=' init ';' { p_const(p, $2, L(@2), $4, $6); }
	| OUTPUT outputs ';'
	| VNAME annot '=' IDENT '(' args ')' ';' { p_op(p, $1, L(@1), $2, $4, L(@4), $6); }
	;

name:	IDENT | MODEL { $$ = "model"; } | INPUT { $$ = "input"; }
	| OUTPUT { $$ = "output"; } | CONST { $$ = "const"; }
	;

outputs: VNAME			{ p_output(p, $1, L(@1)); }
	| outputs ',' VNAME	{ p_output(p, $3, L(@3)); }
	;

annot:	%empty			{ $$ = NULL; }
	| ':' type		{ $$ = $2; }
	;

type:	IDENT '[' dims ']' brace {
		$$ = alloc(sizeof *$$);
		$$->dt = $1;
		$$->loc = L(@1);
		$$->dims = $3;
		$$->brace = $5;
	}
	;

dims:	%empty			{ $$ = (Nums){0}; }
	| numlist
	;

numlist: NUMBER			{ $$ = (Nums){0}; push_num(&$$, $1, L(@1)); }
	| IDENT			{ $$ = (Nums){0}; error_at(L(@1), "expected a number, got '%s'%s", $1,
					!strcmp($1, "inf") || !strcmp($1, "nan") ? " (numbers must be finite)" : ""); }
	| numlist ',' NUMBER	{ $$ = $1; push_num(&$$, $3, L(@3)); }
	| numlist ',' IDENT	{ $$ = $1; error_at(L(@3), "expected a number, got '%s'%s", $3,
					!strcmp($3, "inf") || !strcmp($3, "nan") ? " (numbers must be finite)" : ""); }
	;

brace:	%empty			{ $$ = (Items){0}; }
	| '{' items '}'		{ $$ = $2; }
	;

items:	item			{ $$ = (Items){0}; PUSH($$.v, $$.n) = $1; }
	| items ',' item	{ $$ = $1; PUSH($$.v, $$.n) = $3; }
	;

item:	IDENT '=' value		{ $$ = $3; $$.name = $1; $$.loc = L(@1); }
	| IDENT			{ $$ = item(IT_FLAG, $1, L(@1)); }
	;

value:	NUMBER			{ $$ = item(IT_NUM, NULL, L(@1)); push_num(&$$.nums, $1, L(@1)); }
	| '[' ']'		{ $$ = item(IT_LIST, NULL, L(@1)); }
	| '[' numlist ']'	{ $$ = item(IT_LIST, NULL, L(@1)); $$.nums = $2; }
	| IDENT			{ $$ = item(IT_IDENT, NULL, L(@1)); $$.id = $1; }
	;

args:	%empty			{ $$ = (Items){0}; }
	| arglist
	;

arglist: arg			{ $$ = (Items){0}; PUSH($$.v, $$.n) = $1; }
	| arglist ',' arg	{ $$ = $1; PUSH($$.v, $$.n) = $3; }
	;

arg:	VNAME			{ $$ = item(IT_VALUE, $1, L(@1)); }
	| CNAME			{ $$ = item(IT_CONST, $1, L(@1)); }
	| IDENT '=' value	{ $$ = $3; $$.name = $1; $$.loc = L(@1); }
	;

init:	STRING			{ $$ = alloc(sizeof *$$); $$->path = $1; $$->loc = L(@1); }
	| NUMBER		{ $$ = alloc(sizeof *$$); $$->loc = L(@1); push_num(&$$->nums, $1, L(@1)); }
	| '[' numlist ']'	{ $$ = alloc(sizeof *$$); $$->loc = L(@1); $$->nums = $2; }
	| IDENT			{ error_at(L(@1), "expected a number, a list or a \"file.npy\" string, got '%s'", $1); }
	;

%%

/* "expected ';' before 'output'" */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, P *p)
{
	enum { MAXEXP = 5 };
	yysymbol_kind_t exp[MAXEXP];
	int n = yypcontext_expected_tokens(ctx, exp, MAXEXP);
	yysymbol_kind_t tok = yypcontext_token(ctx);
	char buf[512];
	size_t len = 0;
	buf[0] = '\0';
	if (n > 0 && n < MAXEXP) {
		len += (size_t)snprintf(buf, sizeof buf, "expected ");
		for (int i = 0; i < n && len < sizeof buf; i++) {
			const char *s = yysymbol_name(exp[i]);
			int w = (int)strlen(s);
			if (s[0] == '"')
				s++, w -= 2;
			len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%.*s",
				i == 0 ? "" : i == n - 1 ? " or " : ", ", w, s);
		}
	} else {
		len += (size_t)snprintf(buf, sizeof buf, "unexpected");
	}
	if (len < sizeof buf) {
		if (tok == YYSYMBOL_YYEOF) {
			snprintf(buf + len, sizeof buf - len, n > 0 && n < MAXEXP ? " before end of file" : " end of file");
		} else {
			const char *t = yyget_text(scanner);
			int w = yyget_leng(scanner);
			snprintf(buf + len, sizeof buf - len, "%s'%.*s'%s", n > 0 && n < MAXEXP ? " before " : " ",
				w > 40 ? 40 : w, t, w > 40 ? "..." : "");
		}
	}
	error_at(lex_loc(p_lex(p), yypcontext_location(ctx)), "%s", buf);
}
