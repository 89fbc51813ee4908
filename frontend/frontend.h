/* Private to the frontend: what the grammar actions hand to parse.c. */
#ifndef Q8C_FRONTEND_H
#define Q8C_FRONTEND_H

#include "ir.h"

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

enum { MAXTOKEN = 4096 };                /* bytes in one name, number or string */
#define MAXNUMEL ((int64_t)1 << 31)      /* elements in one tensor */

/* scanner state (yyextra) */
struct Lex {
	const char *file;
	int line, col;
};

/* a list of numbers, each with its location */
typedef struct {
	double *v;
	Loc *loc;
	int n;
} Nums;

/* One `name=value` (attribute or brace item), a bare flag (`fixed`), or
   an operand (%x, @c). */
typedef enum { IT_NUM, IT_LIST, IT_IDENT, IT_FLAG, IT_VALUE, IT_CONST } ItemKind;

typedef struct {
	ItemKind kind;
	char *name;  /* attribute name, or the operand's name */
	Loc loc;     /* of the name */
	Loc vloc;    /* of the value */
	Nums nums;   /* IT_NUM (one) and IT_LIST */
	char *id;    /* IT_IDENT */
} Item;

typedef struct {
	Item *v;
	int n;
} Items;

/* a written type: f32[1, 2]{scale=...} */
typedef struct {
	char *dt;
	Loc loc;
	Nums dims;
	Items brace;
} TypeSpec;

/* the constant's initializer */
typedef struct {
	char *path; /* "file.npy", or NULL for numbers */
	Nums nums;
	Loc loc;
} Init;

typedef struct P P;

/* parse.c, called by the grammar actions */
void p_model(P *p, char *name, Loc l);
void p_input(P *p, char *name, Loc l, TypeSpec *t);
void p_const(P *p, char *name, Loc l, TypeSpec *t, Init *init);
void p_output(P *p, char *name, Loc l);
void p_op(P *p, char *name, Loc l, TypeSpec *annot, char *op, Loc opl, Items args);
struct Lex *p_lex(P *p);

/* attrs.c: numbers, items, quantization parameters, op attributes */
int64_t fe_int(double v, Loc l, const char *what, int64_t lo, int64_t hi);
Item *fe_item(Items *it, const char *name);        /* NULL if absent; twice: error */
Quant *fe_quant(Loc l, const char *what, Item *scale, Item *zp, Item *axis, int rank);
void fe_attrs(Op *op, Items *at);

/* parse.c: the path rule of data files (NULL and *why when broken) */
char *fe_inside(const char *dir, const char *path, const char **why);

/* shared between parse.c, attrs.c and infer.c */
char *fe_dims(const Type *t);
void fe_check_quant(Loc l, const char *what, Quant *q, const Type *t);

#endif
